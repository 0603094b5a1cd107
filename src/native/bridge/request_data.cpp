#include "bridge/request_data.hpp"
#include "bridge/boundary.hpp"

#include <structmember.h>

namespace fasterapi::bridge {
namespace {

enum Slot {
  kMethod,
  kPath,
  kRawPath,
  kQuery,
  kHeaders,
  kBody,
  kClient,
  kVersion,
  kParams,
  kServer,
  kBodyReader,
  kSlots
};

struct RequestDataObject {
  PyObject_HEAD RequestFields* f;
  PyObject* cache[kSlots];
  PyObject* dict;  // lets the Python layer hang its own attributes (state, parsed forms)
};

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c + 32) : c; }

PyObject* build(RequestDataObject* self, int slot) {
  RequestFields& f = *self->f;
  switch (slot) {
    case kMethod: return PyUnicode_DecodeLatin1(f.method.data(), Py_ssize_t(f.method.size()), nullptr);
    case kPath: return PyUnicode_DecodeUTF8(f.path.data(), Py_ssize_t(f.path.size()), "surrogateescape");
    case kRawPath: return PyBytes_FromStringAndSize(f.raw_path.data(), Py_ssize_t(f.raw_path.size()));
    case kQuery: return PyBytes_FromStringAndSize(f.query.data(), Py_ssize_t(f.query.size()));
    case kBody: return PyBytes_FromStringAndSize(f.body.data(), Py_ssize_t(f.body.size()));
    case kVersion: return PyUnicode_FromString(f.http2 ? "2" : f.version_minor == 0 ? "1.0" : "1.1");
    case kClient:
      if (f.client_port < 0) Py_RETURN_NONE;
      return Py_BuildValue("(s#i)", f.client_host.data(), Py_ssize_t(f.client_host.size()), f.client_port);
    case kServer:
      if (f.server_host.empty()) Py_RETURN_NONE;
      return Py_BuildValue("(s#i)", f.server_host.data(), Py_ssize_t(f.server_host.size()), f.server_port);
    case kHeaders: {
      PyObject* list = PyList_New(Py_ssize_t(f.headers.size()));
      if (!list) return nullptr;
      for (size_t i = 0; i < f.headers.size(); ++i) {
        auto& [k, v] = f.headers[i];
        PyObject* t = Py_BuildValue("(y#y#)", k.data(), Py_ssize_t(k.size()), v.data(), Py_ssize_t(v.size()));
        if (!t) {
          Py_DECREF(list);
          return nullptr;
        }
        PyList_SET_ITEM(list, Py_ssize_t(i), t);
      }
      return list;
    }
    case kParams: {
      PyObject* d = PyDict_New();
      if (!d) return nullptr;
      for (auto& [k, v] : f.path_params) {
        PyObject* val = PyUnicode_DecodeUTF8(v.data(), Py_ssize_t(v.size()), "surrogateescape");
        if (!val || PyDict_SetItemString(d, k.c_str(), val) < 0) {
          Py_XDECREF(val);
          Py_DECREF(d);
          return nullptr;
        }
        Py_DECREF(val);
      }
      return d;
    }
  }
  Py_RETURN_NONE;
}

PyObject* get_slot(PyObject* o, void* closure) {
  auto* self = reinterpret_cast<RequestDataObject*>(o);
  int slot = int(reinterpret_cast<intptr_t>(closure));
  if (slot < 0 || slot >= kSlots) Py_RETURN_NONE;
  PyObject* cached = self->cache[slot];
  if (!cached) {
    cached = build(self, slot);
    if (!cached) return nullptr;
    self->cache[slot] = cached;
  }
  return Py_NewRef(cached);
}

int set_slot(PyObject* o, PyObject* value, void* closure) {
  // The Python layer may replace the body (e.g. after middleware consumed it) or params.
  auto* self = reinterpret_cast<RequestDataObject*>(o);
  int slot = int(reinterpret_cast<intptr_t>(closure));
  if (slot < 0 || slot >= kSlots) return 0;
  Py_XINCREF(value);
  Py_XSETREF(self->cache[slot], value);
  return 0;
}

PyObject* scheme_get(PyObject* o, void*) {
  return PyUnicode_FromString(reinterpret_cast<RequestDataObject*>(o)->f->https ? "https" : "http");
}

#define SLOT(name, id, doc) \
  { name, boundary<get_slot>, boundary<set_slot>, doc, reinterpret_cast<void*>(intptr_t(id)) }
PyGetSetDef getset[] = {
    SLOT("method", kMethod, "request method (str)"),
    SLOT("path", kPath, "percent-decoded path (str)"),
    SLOT("raw_path", kRawPath, "path as received (bytes)"),
    SLOT("query_string", kQuery, "query as received, without '?' (bytes)"),
    SLOT("headers", kHeaders, "list of (name, value) bytes pairs, names lower-cased"),
    SLOT("body", kBody, "the whole body (bytes); b'' when body_reader streams it"),
    SLOT("body_reader", kBodyReader, "None, or the BodyReader of a streamed body (engine.stream_bodies)"),
    SLOT("client", kClient, "(host, port) or None"),
    SLOT("server", kServer, "(host, port) or None"),
    SLOT("http_version", kVersion, "'1.1', '1.0', or '2' (an HTTP/2 stream)"),
    SLOT("path_params", kParams, "router captures (dict[str, str])"),
    {"scheme", boundary<scheme_get>, nullptr, "'https' on a TLS connection served by the engine, else 'http'", nullptr},
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, nullptr, nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};
#undef SLOT

int traverse(PyObject* o, visitproc visit, void* arg) {
  auto* self = reinterpret_cast<RequestDataObject*>(o);
  Py_VISIT(Py_TYPE(o));
  for (auto* c : self->cache) Py_VISIT(c);
  Py_VISIT(self->dict);
  return 0;
}

int clear(PyObject* o) {
  auto* self = reinterpret_cast<RequestDataObject*>(o);
  for (auto*& c : self->cache) Py_CLEAR(c);
  Py_CLEAR(self->dict);
  return 0;
}

void dealloc(PyObject* o) {
  auto* self = reinterpret_cast<RequestDataObject*>(o);
  PyTypeObject* tp = Py_TYPE(o);
  PyObject_GC_UnTrack(o);
  clear(o);
  delete self->f;
  tp->tp_free(o);
  Py_DECREF(tp);
}

PyMemberDef members[] = {{"__dictoffset__", T_PYSSIZET, offsetof(RequestDataObject, dict), READONLY, nullptr},
                         {nullptr, 0, 0, 0, nullptr}};

PyType_Slot slots[] = {{Py_tp_dealloc, reinterpret_cast<void*>(boundary<dealloc>)},
                       {Py_tp_traverse, reinterpret_cast<void*>(boundary<traverse>)},
                       {Py_tp_clear, reinterpret_cast<void*>(boundary<clear>)},
                       {Py_tp_getset, getset},
                       {Py_tp_members, members},
                       {Py_tp_doc, const_cast<char*>("One request, copied out of the connection buffer.")},
                       {0, nullptr}};

}  // namespace

PyType_Spec request_spec = {"fasterapi._core.RequestData", sizeof(RequestDataObject), 0,
                            Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC, slots};

PyObject* make_request_data(ModuleState* st, const http::Request& req, std::string_view decoded_path,
                            const router::Match* match, const std::string& client_host, int client_port) {
  PyTypeObject* tp = st->request_type;
  auto* self = reinterpret_cast<RequestDataObject*>(tp->tp_alloc(tp, 0));
  if (!self) return nullptr;
  self->f = new RequestFields();
  RequestFields& f = *self->f;
  f.method.assign(req.method);
  f.raw_path.assign(req.path);
  f.path.assign(decoded_path);
  f.query.assign(req.query);
  f.body.assign(req.body);
  f.client_host = client_host;
  f.client_port = client_port;
  f.version_minor = req.version_minor;
  f.headers.reserve(req.num_headers);
  // RFC 9112 3.2.2: with an absolute-form target the authority in it is the host; the parser
  // put it in req.host, and the application sees it as the Host header.
  bool absolute_form = !req.target.empty() && req.target[0] != '/' && req.target != "*";
  for (uint32_t i = 0; i < req.num_headers; ++i) {
    std::string name(req.headers[i].name);
    for (char& c : name) c = ascii_lower(c);
    std::string_view value = absolute_form && name == "host" ? req.host : req.headers[i].value;
    f.headers.emplace_back(std::move(name), std::string(value));
  }
  if (match && match->kind == router::Match::Found)
    for (int i = 0; i < match->num_captures; ++i)
      f.path_params.emplace_back(std::string(match->captures[i].name), std::string(match->captures[i].value));
  return reinterpret_cast<PyObject*>(self);
}

void set_request_connection(PyObject* request_data, const server::ConnLink& link) {
  RequestFields& f = *reinterpret_cast<RequestDataObject*>(request_data)->f;
  f.server_host = link.local_host;
  f.server_port = link.local_port;
  f.https = link.tls;
  f.http2 = link.http2;
}

void set_body_reader(PyObject* request_data, PyObject* reader) {
  Py_XSETREF(reinterpret_cast<RequestDataObject*>(request_data)->cache[kBodyReader], reader);
}

}  // namespace fasterapi::bridge
