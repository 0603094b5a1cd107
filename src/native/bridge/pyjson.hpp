// Python objects -> JSON text, written by C++ straight into an output buffer.
#pragma once
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "http/buffer.hpp"

namespace fasterapi::bridge {

// Appends the JSON text of `obj` to `out`, matching
// json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).
// Types json.dumps does not know: Enum by value, anything else through `default_fn(obj)` (the
// engine's is FastAPI's jsonable_encoder), whose result is then written; without a default_fn
// (NULL), pydantic models and dataclasses through their own serializer (`to_json(by_alias=True)`). Returns 0, or -1
// with a Python exception set (TypeError: not serializable; ValueError: nan/inf, or nesting deeper than 256 levels).
// drop_sa_keys: a str key starting with "_sa" is left out of every dict, as FastAPI's
// jsonable_encoder leaves it out (sqlalchemy_safe=True); the engine's responses, not _core.dumps.
int write_json(PyObject* obj, http::Buffer& out, PyObject* default_fn, bool drop_sa_keys = false);

// Whether `name` is defined in the namespace of a heap type in tp's MRO (no exception set).
bool type_defines(PyTypeObject* tp, const char* name);

}  // namespace fasterapi::bridge
