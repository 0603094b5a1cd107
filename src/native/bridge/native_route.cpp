// Native routes (user C ABI handlers) and constant routes (pre-rendered responses).
#include "bridge/native_route.hpp"
#include "http/ascii.hpp"

#include <dlfcn.h>
#include <structmember.h>

#include <charconv>
#include <cstring>
#include <vector>

#include "bridge/perf.hpp"
#include "bridge/boundary.hpp"
#include "http/response.hpp"

namespace fasterapi::bridge {
namespace {

using http::iequals;

void put_status_line(http::Buffer& out, int status) {
  out.last_status = status;
  if (status == 200) {
    out.append("HTTP/1.1 200 OK\r\n");
  } else {
    char tmp[8];
    auto [p, ec] = std::to_chars(tmp, tmp + sizeof tmp, status);
    (void)ec;
    out.append("HTTP/1.1 ");
    out.append(tmp, size_t(p - tmp));
    out.push_back(' ');
    out.append(http::reason_phrase(status));
    out.append("\r\n");
  }
}

void put_conn_header(http::Buffer& out, ConnHeader conn) {
  if (conn == ConnHeader::Close)
    out.append("Connection: close\r\n");
  else if (conn == ConnHeader::KeepAlive)
    out.append("Connection: keep-alive\r\n");
}

fa_str to_fa(std::string_view s) { return fa_str{s.data(), s.size()}; }

// ---- the response writer behind fa_response_api ------------------------------------------------

struct Writer {
  fa_response res;
  http::Buffer* out;
  std::string* headers;  // "Name: value\r\n" lines until the head is frozen
  size_t start;
  int status = 200;
  ConnHeader conn = ConnHeader::None;
  bool split = false;  // Python-call mode: only the body goes to `out`
  bool frozen = false;
  bool bodyless = false;
  size_t cl_pos = 0, body_start = 0;
  size_t reserved = 0;

  static Writer* of(fa_response* r) { return static_cast<Writer*>(r->engine_private); }

  void freeze() {
    frozen = true;
    bodyless = status < 200 || status == 204 || status == 304;
    if (split) {
      body_start = out->size();
      return;
    }
    put_status_line(*out, status);
    out->append(http::date_and_server_headers());
    out->append(*headers);
    put_conn_header(*out, conn);
    if (bodyless) {
      out->append("\r\n");
    } else {
      out->append("Content-Length: ");
      cl_pos = out->size();
      out->prepare(kDigits + 4);
      out->commit(kDigits + 4);
    }
    body_start = out->size();
  }

  // Completes the response: patches Content-Length and closes the gap left for its digits.
  void finish(bool head_only) {
    if (!frozen) freeze();
    if (split) return;
    if (bodyless) {
      out->truncate(body_start);
      return;
    }
    size_t len = out->size() - body_start;
    char digits[24];
    auto [p, ec] = std::to_chars(digits, digits + sizeof digits, len);
    (void)ec;
    size_t d = size_t(p - digits);
    size_t gap = kDigits - d;
    char* base = out->data();
    if (head_only) {
      std::memcpy(base + cl_pos, digits, d);
      std::memcpy(base + cl_pos + d, "\r\n\r\n", 4);
      out->truncate(cl_pos + d + 4);
    } else if (start == 0) {
      std::memmove(base + gap, base, cl_pos);
      std::memcpy(base + gap + cl_pos, digits, d);
      std::memcpy(base + gap + cl_pos + d, "\r\n\r\n", 4);
      out->consume(gap);
    } else {
      std::memcpy(base + cl_pos, digits, d);
      std::memcpy(base + cl_pos + d, "\r\n\r\n", 4);
      std::memmove(base + cl_pos + d + 4, base + body_start, len);
      out->truncate(cl_pos + d + 4 + len);
    }
  }

  static constexpr size_t kDigits = 20;
};

int api_set_status(fa_response* r, int status) {
  Writer* w = Writer::of(r);
  if (w->frozen || status < 100 || status > 999) return -1;
  w->status = status;
  return 0;
}

int api_add_header(fa_response* r, const char* name, size_t nlen, const char* value, size_t vlen) {
  Writer* w = Writer::of(r);
  if (w->frozen || !name || (!value && vlen)) return -1;
  std::string_view n(name, nlen), v(value ? value : "", vlen);
  if (n.empty() || !http::valid_header_name(n) || !http::valid_header_value(v)) return -1;
  if (iequals(n, "content-length") || iequals(n, "transfer-encoding") || iequals(n, "connection")) return 0;
  w->headers->append(n);
  w->headers->append(": ");
  w->headers->append(v);
  w->headers->append("\r\n");
  return 0;
}

int api_write(fa_response* r, const char* data, size_t len) {
  Writer* w = Writer::of(r);
  if (!w->frozen) w->freeze();
  w->reserved = 0;
  if (len && !data) return -1;
  w->out->append(data, len);
  return 0;
}

char* api_body_reserve(fa_response* r, size_t n) {
  Writer* w = Writer::of(r);
  if (!w->frozen) w->freeze();
  w->reserved = n;
  return w->out->prepare(n);
}

int api_body_commit(fa_response* r, size_t n) {
  Writer* w = Writer::of(r);
  if (n > w->reserved) return -1;
  w->out->commit(n);
  w->reserved = 0;
  return 0;
}

const fa_response_api kApi = {sizeof(fa_response_api), api_set_status, api_add_header, api_write,
                              api_body_reserve,        api_body_commit};

// Calls the handler; false when it failed (non-zero return or an exception).
bool call_handler(NativeHandlerObject* h, const fa_request* req, Writer& w) {
  w.res.api = &kApi;
  w.res.engine_private = &w;
  int rc = -1;
  PyThreadState* ts = h->release_gil ? PyEval_SaveThread() : nullptr;
  stage_mark(kCallStart);
  try {
    rc = h->fn(req, &w.res);
  } catch (...) { rc = -1; }
  stage_mark(kCallEnd);
  if (ts) PyEval_RestoreThread(ts);
  return rc == 0;
}

struct Scratch {
  std::vector<fa_header> headers;
  std::vector<fa_header> params;
  std::string head_lines;
};
thread_local Scratch t_scratch;

}  // namespace

void run_native(NativeHandlerObject* h, const http::Request& req, std::string_view path, const router::Match& match,
                const std::string& client_host, int client_port, ConnHeader conn, http::Buffer& out) {
  Scratch& s = t_scratch;
  s.headers.resize(req.num_headers);
  for (uint32_t i = 0; i < req.num_headers; ++i)
    s.headers[i] = fa_header{to_fa(req.headers[i].name), to_fa(req.headers[i].value)};
  s.params.resize(size_t(match.num_captures));
  for (int i = 0; i < match.num_captures; ++i)
    s.params[size_t(i)] = fa_header{to_fa(match.captures[i].name), to_fa(match.captures[i].value)};
  fa_request r{};
  r.abi_version = FASTERAPI_NATIVE_ABI_VERSION;
  r.http_minor = req.version_minor;
  r.method = to_fa(req.method);
  r.path = to_fa(path);
  r.raw_path = to_fa(req.path);
  r.query = to_fa(req.query);
  r.headers = s.headers.data();
  r.num_headers = s.headers.size();
  r.body = to_fa(req.body);
  r.path_params = s.params.data();
  r.num_path_params = s.params.size();
  r.client_host = to_fa(client_host);
  r.client_port = client_port;
  s.head_lines.clear();
  Writer w{};
  w.out = &out;
  w.headers = &s.head_lines;
  w.start = out.size();
  w.conn = conn;
  if (!call_handler(h, &r, w)) {
    out.truncate(w.start);
    write_500(out, conn);
    return;
  }
  w.finish(req.is_head);
}

// ---- constant routes ---------------------------------------------------------------------------

void write_static(const StaticResponse& s, bool head_only, ConnHeader conn, http::Buffer& out) {
  out.append(s.status_line);
  out.last_status = s.status;
  out.append(http::date_and_server_headers());
  put_conn_header(out, conn);
  out.append(head_only ? std::string_view(s.rest).substr(0, s.body_offset) : std::string_view(s.rest));
}

std::shared_ptr<const StaticResponse> capture_static(const http::Buffer& out, size_t from) {
  std::string joined;  // a zero-copy body follows the buffer's own bytes
  std::string_view all = out.view().substr(from);
  if (!out.attached().empty()) {
    joined.assign(all);
    joined.append(out.attached());
    all = joined;
  }
  size_t eol = all.find("\r\n");
  if (eol == std::string_view::npos || all.size() < 12 || all.substr(0, 9) != "HTTP/1.1 ") return nullptr;
  int status = (all[9] - '0') * 100 + (all[10] - '0') * 10 + (all[11] - '0');
  if (status < 200 || status >= 400) return nullptr;
  // The Date/Server lines (either may be switched off) follow the status line; they are written
  // fresh on every replay.
  std::string_view rest = all.substr(eol + 2);
  for (std::string_view name : {std::string_view("Date: "), std::string_view("Server: ")}) {
    if (rest.substr(0, name.size()) != name) continue;
    size_t end = rest.find("\r\n");
    if (end == std::string_view::npos) return nullptr;
    rest = rest.substr(end + 2);
  }
  size_t head_end = rest.find("\r\n\r\n");
  size_t blank = rest.substr(0, 2) == "\r\n" ? 0 : head_end;  // no header lines at all
  if (blank == std::string_view::npos) return nullptr;
  size_t body_offset = blank == 0 ? 2 : blank + 4;
  // The connection header is per request: a response that already carries one is not replayable.
  std::string_view head = rest.substr(0, body_offset);
  for (size_t pos = 0; pos < head.size();) {
    size_t e = head.find("\r\n", pos);
    if (e == std::string_view::npos) break;
    std::string_view line = head.substr(pos, e - pos);
    if (line.size() >= 11 && iequals(line.substr(0, 11), "connection:")) return nullptr;
    pos = e + 2;
  }
  auto s = std::make_shared<StaticResponse>();
  s->status_line.assign(all.substr(0, eol + 2));
  s->status = status;
  s->rest.assign(rest);
  s->body_offset = body_offset;
  return s;
}

// ---- _core.NativeHandler -----------------------------------------------------------------------

namespace {

PyObject* native_new(PyTypeObject* tp, PyObject* args, PyObject* kw) {
  static const char* names[] = {"library", "symbol", "release_gil", nullptr};
  PyObject* lib_bytes = nullptr;
  PyObject* symbol;
  int release_gil = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O&U|p", const_cast<char**>(names), PyUnicode_FSConverter, &lib_bytes,
                                   &symbol, &release_gil))
    return nullptr;
  const char* path = PyBytes_AS_STRING(lib_bytes);
  const char* sym = PyUnicode_AsUTF8(symbol);
  if (!sym) {
    Py_DECREF(lib_bytes);
    return nullptr;
  }
  dlerror();
  void* dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!dl) {
    const char* err = dlerror();
    PyErr_Format(PyExc_OSError, "cannot load native library %s: %s", path, err ? err : "unknown error");
    Py_DECREF(lib_bytes);
    return nullptr;
  }
  auto* abi = static_cast<const uint32_t*>(dlsym(dl, "fasterapi_native_abi_version"));
  void* fn = dlsym(dl, sym);
  const char* problem = nullptr;
  if (!abi)
    problem = "does not export fasterapi_native_abi_version (build it with #include <fasterapi_native.h>)";
  else if (*abi != FASTERAPI_NATIVE_ABI_VERSION)
    problem = "was built against another fasterapi_native.h ABI version";
  else if (!fn)
    problem = "has no such symbol";
  if (problem) {
    PyErr_Format(PyExc_ImportError, "native library %s (symbol %s) %s", path, sym, problem);
    dlclose(dl);
    Py_DECREF(lib_bytes);
    return nullptr;
  }
  auto* self = reinterpret_cast<NativeHandlerObject*>(tp->tp_alloc(tp, 0));
  if (!self) {
    dlclose(dl);
    Py_DECREF(lib_bytes);
    return nullptr;
  }
  self->dl = dl;
  self->fn = reinterpret_cast<fa_handler>(fn);
  self->release_gil = release_gil;
  self->library = PyUnicode_DecodeFSDefault(path);
  self->symbol = Py_NewRef(symbol);
  Py_DECREF(lib_bytes);
  if (!self->library) {
    Py_DECREF(self);
    return nullptr;
  }
  return reinterpret_cast<PyObject*>(self);
}

void native_dealloc(PyObject* o) {
  auto* self = reinterpret_cast<NativeHandlerObject*>(o);
  PyTypeObject* tp = Py_TYPE(o);
  Py_CLEAR(self->library);
  Py_CLEAR(self->symbol);
  if (self->dl) dlclose(self->dl);
  tp->tp_free(o);
  Py_DECREF(tp);
}

bool utf8_of(PyObject* o, fa_str& out) {
  if (PyBytes_Check(o)) {
    out = fa_str{PyBytes_AS_STRING(o), size_t(PyBytes_GET_SIZE(o))};
    return true;
  }
  Py_ssize_t n;
  const char* s = PyUnicode_AsUTF8AndSize(o, &n);
  if (!s) return false;
  out = fa_str{s, size_t(n)};
  return true;
}

// __call__(req, path_params=None) -> (status, [(name, value)], body): the same handler run for a
// request the Python layer routed (an app with middleware). `req` is a RequestData (or look-alike).
PyObject* native_call(PyObject* o, PyObject* args, PyObject* kw) {
  auto* self = reinterpret_cast<NativeHandlerObject*>(o);
  static const char* names[] = {"req", "path_params", nullptr};
  PyObject* req;
  PyObject* params = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O", const_cast<char**>(names), &req, &params)) return nullptr;
  std::vector<PyObject*> keep;
  auto attr = [&](const char* name) -> PyObject* {
    PyObject* v = PyObject_GetAttrString(req, name);
    if (v) keep.push_back(v);
    return v;
  };
  auto release = [&] {
    for (PyObject* k : keep) Py_DECREF(k);
  };
  fa_request r{};
  std::vector<fa_header> headers, pparams;
  std::string host;
  PyObject *method, *path, *raw_path, *query, *hdrs, *body, *client;
  if (!(method = attr("method")) || !(path = attr("path")) || !(raw_path = attr("raw_path")) ||
      !(query = attr("query_string")) || !(hdrs = attr("headers")) || !(body = attr("body")) ||
      !(client = attr("client"))) {
    release();
    return nullptr;
  }
  if (params == Py_None && !(params = attr("path_params"))) {
    release();
    return nullptr;
  }
  if (!utf8_of(method, r.method) || !utf8_of(path, r.path) || !utf8_of(raw_path, r.raw_path) ||
      !utf8_of(query, r.query) || !utf8_of(body, r.body)) {
    release();
    return nullptr;
  }
  PyObject* hseq = PySequence_Fast(hdrs, "headers must be a sequence");
  if (!hseq) {
    release();
    return nullptr;
  }
  keep.push_back(hseq);
  for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(hseq); ++i) {
    PyObject* pair = PySequence_Fast_GET_ITEM(hseq, i);
    fa_header h;
    if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 || !utf8_of(PyTuple_GET_ITEM(pair, 0), h.name) ||
        !utf8_of(PyTuple_GET_ITEM(pair, 1), h.value)) {
      if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "headers must be (name, value) pairs");
      release();
      return nullptr;
    }
    headers.push_back(h);
  }
  if (PyDict_Check(params)) {
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(params, &pos, &k, &v)) {
      PyObject* vs = PyObject_Str(v);
      if (!vs) {
        release();
        return nullptr;
      }
      keep.push_back(vs);
      fa_header h;
      if (!utf8_of(k, h.name) || !utf8_of(vs, h.value)) {
        release();
        return nullptr;
      }
      pparams.push_back(h);
    }
  }
  if (PyTuple_Check(client) && PyTuple_GET_SIZE(client) == 2) {
    fa_str hs;
    if (utf8_of(PyTuple_GET_ITEM(client, 0), hs))
      r.client_host = hs;
    else
      PyErr_Clear();
    r.client_port = int32_t(PyLong_AsLong(PyTuple_GET_ITEM(client, 1)));
    if (PyErr_Occurred()) PyErr_Clear();
  } else {
    r.client_port = -1;
  }
  r.abi_version = FASTERAPI_NATIVE_ABI_VERSION;
  r.http_minor = 1;
  r.headers = headers.data();
  r.num_headers = headers.size();
  r.path_params = pparams.data();
  r.num_path_params = pparams.size();
  http::Buffer out;
  std::string head_lines;
  Writer w{};
  w.out = &out;
  w.headers = &head_lines;
  w.split = true;
  bool ok = call_handler(self, &r, w);
  release();
  if (!ok) {
    PyErr_Format(PyExc_RuntimeError, "native handler %U failed", self->symbol);
    return nullptr;
  }
  w.finish(false);
  PyObject* list = PyList_New(0);
  if (!list) return nullptr;
  std::string_view lines(head_lines);
  while (!lines.empty()) {
    size_t e = lines.find("\r\n");
    std::string_view line = lines.substr(0, e);
    size_t colon = line.find(": ");
    PyObject* t = Py_BuildValue("(y#y#)", line.data(), Py_ssize_t(colon), line.data() + colon + 2,
                                Py_ssize_t(line.size() - colon - 2));
    if (!t || PyList_Append(list, t) < 0) {
      Py_XDECREF(t);
      Py_DECREF(list);
      return nullptr;
    }
    Py_DECREF(t);
    lines.remove_prefix(e + 2);
  }
  std::string_view b = w.bodyless ? std::string_view() : out.view();
  return Py_BuildValue("(iNy#)", w.status, list, b.data(), Py_ssize_t(b.size()));
}

PyObject* native_repr(PyObject* o) {
  auto* self = reinterpret_cast<NativeHandlerObject*>(o);
  return PyUnicode_FromFormat("NativeHandler(%R, %R)", self->library, self->symbol);
}

PyMemberDef native_members[] = {
    {"library", T_OBJECT, offsetof(NativeHandlerObject, library), READONLY, "path of the shared library"},
    {"symbol", T_OBJECT, offsetof(NativeHandlerObject, symbol), READONLY, "the handler's symbol"},
    {"release_gil", T_BOOL, offsetof(NativeHandlerObject, release_gil), READONLY,
     "whether the GIL is released while the handler runs"},
    {nullptr, 0, 0, 0, nullptr}};

PyType_Slot native_slots[] = {
    {Py_tp_new, reinterpret_cast<void*>(boundary<native_new>)},
    {Py_tp_dealloc, reinterpret_cast<void*>(boundary<native_dealloc>)},
    {Py_tp_call, reinterpret_cast<void*>(boundary<native_call>)},
    {Py_tp_repr, reinterpret_cast<void*>(boundary<native_repr>)},
    {Py_tp_members, native_members},
    {Py_tp_doc, const_cast<char*>("NativeHandler(library, symbol, release_gil=False): a C ABI handler "
                                  "(fasterapi_native.h) loaded from a shared library")},
    {0, nullptr}};

}  // namespace

PyType_Spec native_spec = {"fasterapi._core.NativeHandler", sizeof(NativeHandlerObject), 0, Py_TPFLAGS_DEFAULT,
                           native_slots};

}  // namespace fasterapi::bridge
