// The one place that includes Python: the fasterapi._core extension module.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "bridge/pyjson.hpp"

namespace fb = fasterapi::bridge;
namespace fh = fasterapi::http;

static PyObject* core_dumps(PyObject*, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  static const char* const names[] = {"obj", "default"};
  (void)names;
  if (nargs < 1 || nargs > 2 || kwnames) {
    PyErr_SetString(PyExc_TypeError, "dumps(obj, default=None)");
    return nullptr;
  }
  PyObject* def = nargs == 2 && args[1] != Py_None ? args[1] : nullptr;
  fh::Buffer out;
  if (fb::write_json(args[0], out, def) < 0) return nullptr;
  return PyBytes_FromStringAndSize(out.data(), (Py_ssize_t)out.size());
}

static PyMethodDef core_methods[] = {
    {"dumps", (PyCFunction)(void (*)(void))core_dumps, METH_FASTCALL | METH_KEYWORDS,
     "dumps(obj, default=None) -> bytes: the engine's JSON writer, for tests."},
    {nullptr, nullptr, 0, nullptr}};

static PyModuleDef_Slot core_slots[] = {{0, nullptr}};

static PyModuleDef core_module = {PyModuleDef_HEAD_INIT, "_core", "FasterAPI native engine", 0,
                                  core_methods, core_slots, nullptr, nullptr, nullptr};

PyMODINIT_FUNC PyInit__core(void) { return PyModuleDef_Init(&core_module); }
