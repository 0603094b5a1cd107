// Python objects -> JSON text (see pyjson.hpp for the contract).
//
// No Python object is cached across calls (sub-interpreter safe): builtin types are recognised by
// their static type objects, Enum and pydantic types by looking at the object's type on the slow
// path only. Every nested value is held by a strong reference while it is written, since a
// `default` function or a pydantic serializer may run Python code that mutates the containers.
#define PY_SSIZE_T_CLEAN
#include "bridge/pyjson.hpp"

#include <cstring>

#include "json/writer.hpp"

namespace fasterapi::bridge {

namespace {

constexpr int kMaxDepth = 256;

inline void put_literal(http::Buffer& out, const char* s, size_t n) {
  std::memcpy(out.prepare(n), s, n);
  out.commit(n);
}

struct Writer {
  http::Buffer& out;
  PyObject* default_fn;
  bool drop_sa = false;  // str keys starting with "_sa" left out (jsonable_encoder's sqlalchemy_safe)
  int depth = 0;

  int value(PyObject* obj);

 private:
  int str(PyObject* obj);
  int integer(PyObject* obj, bool quoted);
  int floating(PyObject* obj, bool quoted);
  int list_items(PyObject* const* items, PyObject* seq, bool is_list);
  int dict(PyObject* obj);
  int dict_items(PyObject* obj);
  int key(PyObject* key);
  int slow(PyObject* obj);
  int nested(PyObject* obj);  // value() one level deeper, holding a reference to obj

  bool enter() {
    if (++depth > kMaxDepth) {
      PyErr_SetString(PyExc_ValueError, "JSON nesting deeper than 256 levels (or a circular reference)");
      return false;
    }
    return true;
  }
  void leave() { --depth; }
};

int Writer::str(PyObject* obj) {
  if (PyUnicode_IS_COMPACT_ASCII(obj)) {  // the common case: the text is the UTF-8
    json::write_string(
        out, {reinterpret_cast<const char*>(PyUnicode_DATA(obj)), static_cast<size_t>(PyUnicode_GET_LENGTH(obj))});
    return 0;
  }
  Py_ssize_t n;
  const char* s = PyUnicode_AsUTF8AndSize(obj, &n);  // fails (UnicodeEncodeError) on surrogates
  if (!s) return -1;
  json::write_string(out, {s, static_cast<size_t>(n)});
  return 0;
}

// int and int subclasses: the text of int.__repr__ (as json.dumps does, ignoring a subclass repr).
int Writer::integer(PyObject* obj, bool quoted) {
  if (quoted) out.push_back('"');
  int overflow = 0;
  long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
  if (overflow == 0) {
    if (v == -1 && PyErr_Occurred()) return -1;
    json::write_int(out, v);
  } else {
    unsigned long long u = overflow > 0 ? PyLong_AsUnsignedLongLong(obj) : 0;
    if (overflow > 0 && !(u == static_cast<unsigned long long>(-1) && PyErr_Occurred())) {
      json::write_uint(out, u);
    } else {
      PyErr_Clear();
      PyObject* text = PyLong_Type.tp_repr(obj);  // may raise ValueError: int_max_str_digits
      if (!text) return -1;
      Py_ssize_t n;
      const char* s = PyUnicode_AsUTF8AndSize(text, &n);
      if (!s) {
        Py_DECREF(text);
        return -1;
      }
      out.append(s, static_cast<size_t>(n));
      Py_DECREF(text);
    }
  }
  if (quoted) out.push_back('"');
  return 0;
}

int Writer::floating(PyObject* obj, bool quoted) {
  double d = PyFloat_AS_DOUBLE(obj);
  size_t mark = out.size();
  if (quoted) out.push_back('"');
  if (!json::write_double(out, d)) {
    out.truncate(mark);
    PyErr_SetString(PyExc_ValueError, "Out of range float values are not JSON compliant");
    return -1;
  }
  if (quoted) out.push_back('"');
  return 0;
}

int Writer::nested(PyObject* obj) {
  Py_INCREF(obj);
  int r = value(obj);
  Py_DECREF(obj);
  return r;
}

// The items of a list or tuple. For a list, Python code run while writing an item may resize it:
// the size and item pointer are re-read for each item.
int Writer::list_items(PyObject* const* items, PyObject* seq, bool is_list) {
  Py_ssize_t n = is_list ? PyList_GET_SIZE(seq) : PyTuple_GET_SIZE(seq);
  if (n == 0) {
    put_literal(out, "[]", 2);
    return 0;
  }
  if (!enter()) return -1;
  out.push_back('[');
  for (Py_ssize_t i = 0;; ++i) {
    if (is_list) {
      if (i >= PyList_GET_SIZE(seq)) break;
#ifdef PYPY_VERSION
      items = PySequence_Fast_ITEMS(seq);  // cpyext's PyListObject has no ob_item
#else
      items = reinterpret_cast<PyListObject*>(seq)->ob_item;
#endif
    } else if (i >= n) {
      break;
    }
    if (i) out.push_back(',');
    if (nested(items[i]) < 0) return -1;
  }
  out.push_back(']');
  leave();
  return 0;
}

// Dict keys as json.dumps converts them.
int Writer::key(PyObject* k) {
  if (PyUnicode_Check(k)) return str(k);
  if (PyFloat_Check(k)) return floating(k, true);
  if (k == Py_True) return put_literal(out, "\"true\"", 6), 0;
  if (k == Py_False) return put_literal(out, "\"false\"", 7), 0;
  if (k == Py_None) return put_literal(out, "\"null\"", 6), 0;
  if (PyLong_Check(k)) return integer(k, true);
  PyErr_Format(PyExc_TypeError, "keys must be str, int, float, bool or None, not %.100s", Py_TYPE(k)->tp_name);
  return -1;
}

// A key jsonable_encoder leaves out of every dict it encodes (sqlalchemy_safe): a str starting "_sa".
inline bool sa_key(PyObject* k) {
  if (!PyUnicode_Check(k) || PyUnicode_GET_LENGTH(k) < 3) return false;
#ifdef PYPY_VERSION
  return PyUnicode_ReadChar(k, 0) == '_' && PyUnicode_ReadChar(k, 1) == 's' && PyUnicode_ReadChar(k, 2) == 'a';
#else
  return PyUnicode_READ_CHAR(k, 0) == '_' && PyUnicode_READ_CHAR(k, 1) == 's' && PyUnicode_READ_CHAR(k, 2) == 'a';
#endif
}

// An exact dict, in its own order.
int Writer::dict(PyObject* obj) {
  if (PyDict_GET_SIZE(obj) == 0) {
    put_literal(out, "{}", 2);
    return 0;
  }
  if (!enter()) return -1;
  out.push_back('{');
  Py_ssize_t pos = 0;
  PyObject *k, *v;
  bool first = true;
  while (PyDict_Next(obj, &pos, &k, &v)) {
    if (drop_sa && sa_key(k)) continue;
    if (!first) out.push_back(',');
    first = false;
    if (Py_IS_TYPE(k, &PyUnicode_Type)) {
      if (str(k) < 0) return -1;
    } else {
      Py_INCREF(v);  // converting the key may run Python code
      int r = key(k);
      Py_DECREF(v);
      if (r < 0) return -1;
    }
    out.push_back(':');
    if (nested(v) < 0) return -1;
  }
  out.push_back('}');
  leave();
  return 0;
}

// A dict subclass: through its items(), as json.dumps does (OrderedDict order, overrides).
int Writer::dict_items(PyObject* obj) {
  PyObject* items = PyMapping_Items(obj);
  if (!items) return -1;
  Py_ssize_t n = PyList_GET_SIZE(items);
  if (n == 0) {
    Py_DECREF(items);
    put_literal(out, "{}", 2);
    return 0;
  }
  if (!enter()) {
    Py_DECREF(items);
    return -1;
  }
  out.push_back('{');
  Py_ssize_t wrote = 0;
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* item = PyList_GET_ITEM(items, i);
    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
      PyErr_SetString(PyExc_ValueError, "items must return 2-tuples");
      Py_DECREF(items);
      return -1;
    }
    if (drop_sa && sa_key(PyTuple_GET_ITEM(item, 0))) continue;
    if (wrote++) out.push_back(',');
    if (key(PyTuple_GET_ITEM(item, 0)) < 0) {
      Py_DECREF(items);
      return -1;
    }
    out.push_back(':');
    if (value(PyTuple_GET_ITEM(item, 1)) < 0) {  // `items` holds the reference
      Py_DECREF(items);
      return -1;
    }
  }
  Py_DECREF(items);
  out.push_back('}');
  leave();
  return 0;
}

// Whether `name` is defined in the namespace of a heap type in tp's MRO.
bool mro_defines(PyTypeObject* tp, const char* name) {
  PyObject* mro = tp->tp_mro;
  if (!mro || !PyTuple_Check(mro)) return false;
  for (Py_ssize_t i = 0, n = PyTuple_GET_SIZE(mro); i < n; ++i) {
    auto* t = reinterpret_cast<PyTypeObject*>(PyTuple_GET_ITEM(mro, i));
    if (!PyType_HasFeature(t, Py_TPFLAGS_HEAPTYPE) || !t->tp_dict) continue;
    PyObject* v = PyDict_GetItemString(t->tp_dict, name);  // borrowed; errors are swallowed
    if (v) return true;
  }
  return false;
}

// Whether obj's type derives from enum.Enum.
bool is_enum_member(PyObject* obj) {
  PyObject* mro = Py_TYPE(obj)->tp_mro;
  if (!mro || !PyTuple_Check(mro)) return false;
  for (Py_ssize_t i = 0, n = PyTuple_GET_SIZE(mro); i < n; ++i) {
    auto* t = reinterpret_cast<PyTypeObject*>(PyTuple_GET_ITEM(mro, i));
    if (std::strcmp(t->tp_name, "Enum") != 0 || !t->tp_dict) continue;
    PyObject* mod = PyDict_GetItemString(t->tp_dict, "__module__");
    if (mod && PyUnicode_Check(mod) && PyUnicode_CompareWithASCIIString(mod, "enum") == 0) return true;
  }
  return false;
}

// Writes a new reference (the result of a conversion) one level deeper, then releases it.
int write_owned(Writer& w, PyObject* result) {
  if (!result) return -1;
  int r = w.value(result);
  Py_DECREF(result);
  return r;
}

int Writer::slow(PyObject* obj) {
  if (obj == Py_None) return put_literal(out, "null", 4), 0;
  if (obj == Py_True) return put_literal(out, "true", 4), 0;
  if (obj == Py_False) return put_literal(out, "false", 5), 0;

  bool is_str = PyUnicode_Check(obj), is_int = !is_str && PyLong_Check(obj),
       is_float = !is_str && !is_int && PyFloat_Check(obj);
  if (is_enum_member(obj)) {
    if (!enter()) return -1;
    int r = write_owned(*this, PyObject_GetAttrString(obj, "value"));
    leave();
    return r;
  }
  if (is_str) return str(obj);
  if (is_int) return integer(obj, false);
  if (is_float) return floating(obj, false);
  if (PyList_Check(obj) || PyTuple_Check(obj)) {
    PyObject* seq = PySequence_Fast(obj, "");  // list(obj) for subclasses, like json.dumps
    if (!seq) return -1;
    int r = list_items(PySequence_Fast_ITEMS(seq), seq, PyList_Check(seq));
    Py_DECREF(seq);
    return r;
  }
  if (PyDict_Check(obj)) return dict_items(obj);

  // Without a default function, a pydantic model or dataclass is written by its own serializer; with
  // one (the engine's: FastAPI's jsonable_encoder), the default decides, as FastAPI's float format
  // (json.dumps: 1e-07) is not pydantic's (1e-7).
  if (!default_fn && mro_defines(Py_TYPE(obj), "__pydantic_serializer__")) {
    PyObject* ser = PyObject_GetAttrString(obj, "__pydantic_serializer__");
    if (!ser) return -1;
    PyObject* to_json = PyObject_GetAttrString(ser, "to_json");
    Py_DECREF(ser);
    if (!to_json) return -1;
    // by_alias=True: FastAPI's jsonable_encoder dumps models by alias (pydantic's default is not to).
    PyObject* kwnames = Py_BuildValue("(s)", "by_alias");
    PyObject* argv[] = {obj, Py_True};
    PyObject* bytes = kwnames ? PyObject_Vectorcall(to_json, argv, 1, kwnames) : nullptr;
    Py_XDECREF(kwnames);
    Py_DECREF(to_json);
    if (!bytes) return -1;
    if (!PyBytes_Check(bytes)) {
      PyErr_Format(PyExc_TypeError, "__pydantic_serializer__.to_json returned %.100s, not bytes",
                   Py_TYPE(bytes)->tp_name);
      Py_DECREF(bytes);
      return -1;
    }
    out.append(PyBytes_AS_STRING(bytes), static_cast<size_t>(PyBytes_GET_SIZE(bytes)));
    Py_DECREF(bytes);
    return 0;
  }

  if (!default_fn) {
    PyObject* name = PyType_GetName(Py_TYPE(obj));
    if (!name) return -1;
    PyErr_Format(PyExc_TypeError, "Object of type %U is not JSON serializable", name);
    Py_DECREF(name);
    return -1;
  }
  if (!enter()) return -1;
  int r = write_owned(*this, PyObject_CallOneArg(default_fn, obj));
  leave();
  return r;
}

int Writer::value(PyObject* obj) {
  PyTypeObject* t = Py_TYPE(obj);
  if (t == &PyUnicode_Type) return str(obj);
  if (t == &PyDict_Type) return dict(obj);
  if (t == &PyLong_Type) return integer(obj, false);
  if (t == &PyList_Type) return list_items(nullptr, obj, true);
  if (t == &PyFloat_Type) return floating(obj, false);
#ifdef PYPY_VERSION
  if (t == &PyTuple_Type) return list_items(PySequence_Fast_ITEMS(obj), obj, false);
#else
  if (t == &PyTuple_Type) return list_items(reinterpret_cast<PyTupleObject*>(obj)->ob_item, obj, false);
#endif
  return slow(obj);
}

}  // namespace

bool type_defines(PyTypeObject* tp, const char* name) { return mro_defines(tp, name); }

int write_json(PyObject* obj, http::Buffer& out, PyObject* default_fn, bool drop_sa_keys) {
  size_t mark = out.size();
  Writer w{out, default_fn, drop_sa_keys};
  if (w.value(obj) < 0) {
    out.truncate(mark);
    return -1;
  }
  return 0;
}

}  // namespace fasterapi::bridge
