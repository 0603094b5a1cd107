// What PyPy's cpyext declares but does not implement, done through the Python-level API instead.
// Only under PYPY_VERSION: CPython builds see nothing here.
#pragma once
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#ifdef PYPY_VERSION
namespace fasterapi::bridge {

// cpyext's PyIter_Send raises NotImplementedError: send through the coroutine's `send` method; a
// StopIteration carries the return value.
inline PySendResult pypy_iter_send(PyObject* iter, PyObject* arg, PyObject** presult) {
  *presult = PyObject_CallMethod(iter, "send", "O", arg);
  if (*presult) return PYGEN_NEXT;
  if (!PyErr_ExceptionMatches(PyExc_StopIteration)) return PYGEN_ERROR;
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  PyErr_NormalizeException(&type, &value, &tb);
  *presult = value ? PyObject_GetAttrString(value, "value") : Py_NewRef(Py_None);
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(tb);
  return *presult ? PYGEN_RETURN : PYGEN_ERROR;
}

}  // namespace fasterapi::bridge
#undef PyIter_Send  // cpyext: a macro naming PyPyIter_Send
#define PyIter_Send fasterapi::bridge::pypy_iter_send
#endif
