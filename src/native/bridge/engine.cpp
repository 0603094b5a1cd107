// The request path inside the bridge: route, run the plan (or the Python handler), write the result.
#include "bridge/engine.hpp"
#include "http/ascii.hpp"

#include <charconv>
#include <cstring>

#include "bridge/body_reader.hpp"
#include "bridge/native_route.hpp"
#include "bridge/perf.hpp"
#include "bridge/offload.hpp"
#include "bridge/pyjson.hpp"
#include "bridge/pypy_compat.hpp"
#include "bridge/request_data.hpp"
#include "bridge/stream.hpp"
#include "bridge/websocket.hpp"
#include "bridge/boundary.hpp"
#include "http/fields.hpp"
#include "http/response.hpp"

namespace fasterapi::bridge {
namespace {

using http::hex_digit;

using http::needs_decode;
using http::percent_decode;

using http::iequals;

// Only the plain forms are converted here; anything else goes to the Python path, whose
// pydantic validation decides (and produces FastAPI's exact 422 when it fails).
PyObject* convert(ParamKind kind, std::string_view s) {
  switch (kind) {
    case ParamKind::Str: return PyUnicode_DecodeUTF8(s.data(), Py_ssize_t(s.size()), nullptr);
    case ParamKind::Int: {
      if (s.empty() || s.size() > 18) return nullptr;
      long long v = 0;
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (ec != std::errc() || p != s.data() + s.size() || s[0] == '+') return nullptr;
      return PyLong_FromLongLong(v);
    }
    case ParamKind::Float: {
      if (s.empty() || s.size() > 32) return nullptr;
      for (char c : s)
        if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == 'e' || c == 'E' || c == '+')) return nullptr;
      double v = 0;
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (ec != std::errc() || p != s.data() + s.size()) return nullptr;
      return PyFloat_FromDouble(v);
    }
    case ParamKind::Bool: {
      static constexpr std::string_view yes[] = {"1", "true", "on", "yes", "t", "y"};
      static constexpr std::string_view no[] = {"0", "false", "off", "no", "f", "n"};
      for (auto y : yes)
        if (iequals(s, y)) Py_RETURN_TRUE;
      for (auto n : no)
        if (iequals(s, n)) Py_RETURN_FALSE;
      return nullptr;
    }
  }
  return nullptr;
}

void append_uint(http::Buffer& out, uint64_t v) {
  char tmp[24];
  auto [p, ec] = std::to_chars(tmp, tmp + sizeof tmp, v);
  (void)ec;
  out.append(tmp, size_t(p - tmp));
}

void write_status_line(http::Buffer& out, int status) {
  out.last_status = status;
  if (status == 200) {
    out.append("HTTP/1.1 200 OK\r\n");
  } else {
    out.append("HTTP/1.1 ");
    append_uint(out, uint64_t(status));
    out.push_back(' ');
    out.append(http::reason_phrase(status));
    out.append("\r\n");
  }
  out.append(http::date_and_server_headers());
}

bool bodyless_status(int status) { return status < 200 || status == 204 || status == 304; }

void write_conn_header(http::Buffer& out, ConnHeader conn) {
  if (conn == ConnHeader::Close)
    out.append("Connection: close\r\n");
  else if (conn == ConnHeader::KeepAlive)
    out.append("Connection: keep-alive\r\n");
}

}  // namespace

void write_500(http::Buffer& out, ConnHeader conn) {
  static constexpr std::string_view body = "{\"detail\":\"Internal Server Error\"}";
  write_status_line(out, 500);
  out.append("Content-Type: application/json\r\n");
  write_conn_header(out, conn);
  out.append("Content-Length: ");
  append_uint(out, body.size());
  out.append("\r\n\r\n");
  out.append(body);
}

void write_503_close(http::Buffer& out) {
  static constexpr std::string_view body = "{\"detail\":\"Service Unavailable\"}";
  write_status_line(out, 503);
  out.append("Content-Type: application/json\r\n");
  write_conn_header(out, ConnHeader::Close);
  out.append("Content-Length: ");
  append_uint(out, body.size());
  out.append("\r\n\r\n");
  out.append(body);
}

// JSON body written straight into the output buffer after a head whose Content-Length is
// reserved; the head is then slid against the body (or the body against the head).
static int write_json_response(EngineObject* e, PyObject* value, int status, bool head_only, ConnHeader conn,
                               http::Buffer& out) {
  size_t start = out.size();
  write_status_line(out, status);
  out.append("Content-Type: application/json\r\n");
  out.append(*e->compiled_headers);
  write_conn_header(out, conn);
  out.append("Content-Length: ");
  constexpr size_t kDigits = 20;
  size_t cl_pos = out.size();
  out.prepare(kDigits + 4);
  out.commit(kDigits + 4);
  size_t body_start = out.size();
  if (write_json(value, out, e->json_default, true) < 0) {
    out.truncate(start);
    return -1;
  }
  size_t len = out.size() - body_start;
  char digits[24];
  auto [p, ec] = std::to_chars(digits, digits + sizeof digits, len);
  (void)ec;
  size_t d = size_t(p - digits);
  size_t gap = kDigits - d;
  char* base = out.data();
  if (head_only) {
    std::memcpy(base + cl_pos, digits, d);
    std::memcpy(base + cl_pos + d, "\r\n\r\n", 4);
    out.truncate(cl_pos + d + 4);
  } else if (start == 0) {
    // First thing in the buffer: move the short head right and drop the gap in front.
    std::memmove(base + gap, base, cl_pos);
    std::memcpy(base + gap + cl_pos, digits, d);
    std::memcpy(base + gap + cl_pos + d, "\r\n\r\n", 4);
    out.consume(gap);
  } else {
    std::memcpy(base + cl_pos, digits, d);
    std::memcpy(base + cl_pos + d, "\r\n\r\n", 4);
    std::memmove(base + cl_pos + d + 4, base + body_start, len);
    out.truncate(cl_pos + d + 4 + len);
  }
  return 0;
}

bool as_bytes(PyObject* o, std::string_view& sv) {
  if (PyBytes_Check(o)) {
    sv = std::string_view(PyBytes_AS_STRING(o), size_t(PyBytes_GET_SIZE(o)));
    return true;
  }
  if (PyUnicode_Check(o)) {
    Py_ssize_t n;
    const char* s = PyUnicode_AsUTF8AndSize(o, &n);
    if (!s) return false;
    sv = std::string_view(s, size_t(n));
    return true;
  }
  if (PyByteArray_Check(o)) {
    sv = std::string_view(PyByteArray_AS_STRING(o), size_t(PyByteArray_GET_SIZE(o)));
    return true;
  }
  PyErr_Format(PyExc_TypeError, "expected bytes or str, got %s", Py_TYPE(o)->tp_name);
  return false;
}

// Drops the reference an output buffer held on a zero-copy body (from whichever thread sends).
static void release_body(void* o) {
  if (PyGILState_Check()) {
    Py_DECREF(static_cast<PyObject*>(o));
    return;
  }
  PyGILState_STATE g = PyGILState_Ensure();
  Py_DECREF(static_cast<PyObject*>(o));
  PyGILState_Release(g);
}

// A Response's status line and its own headers (framing headers dropped: they are the engine's),
// then the Connection header; the caller ends the head. Returns the status, or -1 with a Python
// exception set (out is left as it was).
static int write_response_head(PyObject* result, ConnHeader conn, http::Buffer& out) {
  PyObject* status_o = PyObject_GetAttrString(result, "status_code");
  if (!status_o) return -1;
  long status = PyLong_AsLong(status_o);
  Py_DECREF(status_o);
  if (status == -1 && PyErr_Occurred()) return -1;
  if (status < 100 || status > 999) {
    PyErr_Format(PyExc_ValueError, "invalid status code %ld", status);
    return -1;
  }
  PyObject* headers_o = PyObject_GetAttrString(result, "raw_headers");
  if (!headers_o) return -1;
  PyObject* seq = PySequence_Fast(headers_o, "raw_headers must be a sequence");
  Py_DECREF(headers_o);
  if (!seq) return -1;
  size_t start = out.size();
  write_status_line(out, int(status));
  for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); ++i) {
    PyObject* pair = PySequence_Fast_GET_ITEM(seq, i);
    if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
      PyErr_SetString(PyExc_TypeError, "raw_headers items must be (name, value) tuples");
      goto fail;
    }
    std::string_view name, value;
    if (!as_bytes(PyTuple_GET_ITEM(pair, 0), name) || !as_bytes(PyTuple_GET_ITEM(pair, 1), value)) goto fail;
    if (!http::valid_header_name(name) || !http::valid_header_value(value)) {
      // Response splitting: never send CR, LF or NUL in a header.
      PyErr_SetString(PyExc_ValueError, "invalid character in response header name or value");
      goto fail;
    }
    if (iequals(name, "content-length") || iequals(name, "transfer-encoding") || iequals(name, "connection"))
      continue;  // framing is the engine's
    out.append(name);
    out.append(": ");
    out.append(value);
    out.append("\r\n");
  }
  Py_DECREF(seq);
  write_conn_header(out, conn);
  return int(status);
fail:
  Py_DECREF(seq);
  out.truncate(start);
  return -1;
}

// zero_copy_min >= 0: a bytes/str body at least that long is referenced by the output buffer
// (sent with the head in one sendmsg) instead of copied into it.
static int write_response_object(PyObject* result, bool head_only, ConnHeader conn, http::Buffer& out,
                                 int64_t zero_copy_min) {
  PyObject* body_o = PyObject_GetAttrString(result, "body");
  if (!body_o) return -1;
  std::string_view body;
  if (body_o != Py_None && !as_bytes(body_o, body)) {
    Py_DECREF(body_o);
    return -1;
  }
  int status = write_response_head(result, conn, out);
  if (status < 0) {
    Py_DECREF(body_o);
    return -1;
  }
  if (bodyless_status(status)) {
    out.append("\r\n");
  } else {
    out.append("Content-Length: ");
    append_uint(out, body.size());
    out.append("\r\n\r\n");
    if (head_only || body.empty()) {
    } else if (zero_copy_min >= 0 && body.size() >= uint64_t(zero_copy_min) &&
               (PyBytes_Check(body_o) || PyUnicode_Check(body_o))) {
      out.attach(body.data(), body.size(), release_body, Py_NewRef(body_o));  // immutable: safe to reference
    } else {
      out.append(body);
    }
  }
  Py_DECREF(body_o);
  return 0;
}

// A JSON body already rendered (pydantic's to_json for a response_model): head, then the bytes,
// referenced rather than copied when large.
static void write_json_bytes(PyObject* body, int status, bool head_only, ConnHeader conn, http::Buffer& out,
                             int64_t zero_copy_min, const std::string& extra_headers) {
  size_t len = size_t(PyBytes_GET_SIZE(body));
  write_status_line(out, status);
  out.append("Content-Type: application/json\r\n");
  out.append(extra_headers);
  write_conn_header(out, conn);
  out.append("Content-Length: ");
  append_uint(out, len);
  out.append("\r\n\r\n");
  if (head_only || len == 0) return;
  if (zero_copy_min >= 0 && len >= uint64_t(zero_copy_min))
    out.attach(PyBytes_AS_STRING(body), len, release_body, Py_NewRef(body));
  else
    out.append(PyBytes_AS_STRING(body), len);
}

// A compiled plan with dependencies runs only while app.dependency_overrides is empty (overrides
// are resolved by the Python path, per request, as FastAPI does).
static bool no_overrides(ModuleState* st, PyObject* app) {
  PyObject* d = PyObject_GetAttr(app, st->str_dependency_overrides);
  bool empty = d && PyDict_Check(d) && PyDict_GET_SIZE(d) == 0;
  if (!d) PyErr_Clear();
  Py_XDECREF(d);
  return empty;
}

// A plan's guard: the dependency-overrides provider (the plan holds while its overrides are empty),
// or (provider | None, route, handler): the plan also holds only while `route.app` is still the
// handler it was compiled from (a library that rebuilds or wraps route.app after startup).
static bool plan_holds(ModuleState* st, PyObject* guard) {
  if (!PyTuple_Check(guard)) return no_overrides(st, guard);
  if (PyTuple_GET_SIZE(guard) != 3) return false;
  PyObject* provider = PyTuple_GET_ITEM(guard, 0);
  if (provider != Py_None && !no_overrides(st, provider)) return false;
  PyObject* app = PyObject_GetAttr(PyTuple_GET_ITEM(guard, 1), st->str_app);
  if (!app) PyErr_Clear();
  bool same = app == PyTuple_GET_ITEM(guard, 2);
  Py_XDECREF(app);
  return same;
}

static bool plain_json_type(PyTypeObject* tp) {
  return tp == &PyDict_Type || tp == &PyList_Type || tp == &PyUnicode_Type || tp == &PyLong_Type ||
         tp == &PyFloat_Type || tp == &PyBool_Type || tp == Py_TYPE(Py_None) || tp == &PyTuple_Type;
}

int write_result(EngineObject* e, PyObject* result, int default_status, bool head_only, ConnHeader conn,
                 http::Buffer& out) {
  if (!plain_json_type(Py_TYPE(result))) {
    int is_resp = PyObject_IsInstance(result, e->response_type);
    if (is_resp < 0) return -1;
    if (is_resp) return write_response_object(result, head_only, conn, out, e->perf->zero_copy_min);
  }
  return write_json_response(e, result, default_status, head_only, conn, out);
}

// A str result of a text route (PlainTextResponse/HTMLResponse): the head with the route's
// Content-Type line, then the UTF-8 body. Returns -1 with a Python exception (a lone surrogate:
// Starlette's encode fails alike) and out unchanged.
static int write_text(PyObject* str, PyObject* content_type_line, int status, bool head_only, ConnHeader conn,
                      http::Buffer& out, const std::string& extra_headers) {
  Py_ssize_t n;
  const char* s = PyUnicode_AsUTF8AndSize(str, &n);
  if (!s) return -1;
  write_status_line(out, status);
  out.append(std::string_view(PyBytes_AS_STRING(content_type_line), size_t(PyBytes_GET_SIZE(content_type_line))));
  out.append(extra_headers);
  write_conn_header(out, conn);
  out.append("Content-Length: ");
  append_uint(out, uint64_t(n));
  out.append("\r\n\r\n");
  if (!head_only) out.append(std::string_view(s, size_t(n)));
  return 0;
}

// ---- running handlers -------------------------------------------------------------------------

// The state of one request on the Python side (declared in engine.hpp for the dispatcher's stages).
struct Ctx {
  EngineObject* e;
  std::shared_ptr<server::ConnLink> link;
  PyObject* reqdata = nullptr;  // owned; made on demand
  // for making reqdata on demand (valid only during the synchronous part)
  const http::Request* req = nullptr;
  std::string_view path;
  const router::Match* match = nullptr;
  const std::string* host = nullptr;
  int port = -1;
  int status = 200;
  bool head_only = false;
  bool close = false;
  bool http10 = false;
  bool fast = false;            // the result came from a fast-path endpoint (may still need Python)
  bool json_bytes = false;      // a bytes result is the JSON body (a compiled response_model)
  PyObject* text = nullptr;     // Route::text (borrowed: the engine, which holds it, outlives the request)
  PyObject* context = nullptr;  // the request's entered contextvars context (borrowed; synchronous part only)
  int stage = 0;                // 0: the handler's result; 1: the error handler's result
  int static_route = -1;        // a constant route whose response is to be captured

  ConnHeader conn_header() const {
    return close ? ConnHeader::Close : http10 ? ConnHeader::KeepAlive : ConnHeader::None;
  }

  PyObject* request_data() {
    if (!reqdata && req) {
      reqdata = make_request_data(e->st, *req, path, match, *host, port);
      if (reqdata) set_request_connection(reqdata, *link);
      ++e->perf->counters.request_data;
    }
    return reqdata;
  }
};

namespace {

struct CompletionObject {
  PyObject_HEAD Ctx* ctx;
};

http::HandleResult finish(Ctx& c, PyObject* obj, http::Buffer& out);

// The exception set now goes to logging.getLogger("fasterapi.error") with its traceback
// (the error path only: importing is a dict lookup once logging is loaded).
void log_exception(const char* message) {
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  PyErr_NormalizeException(&type, &value, &tb);
  if (tb && value) PyException_SetTraceback(value, tb);
  PyObject* logging = PyImport_ImportModule("logging");
  PyObject* logger = logging ? PyObject_CallMethod(logging, "getLogger", "s", "fasterapi.error") : nullptr;
  PyObject* r = nullptr;
  if (logger) {
    PyObject* kwargs = Py_BuildValue("{sO}", "exc_info", value ? value : Py_None);
    PyObject* meth = PyObject_GetAttrString(logger, "error");
    PyObject* args = Py_BuildValue("(s)", message);
    if (kwargs && meth && args) r = PyObject_Call(meth, args, kwargs);
    Py_XDECREF(kwargs);
    Py_XDECREF(meth);
    Py_XDECREF(args);
  }
  if (!r) PyErr_WriteUnraisable(logger ? logger : Py_None);
  Py_XDECREF(r);
  Py_XDECREF(logger);
  Py_XDECREF(logging);
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(tb);
}

// The exception set now: ask the Python layer's error handler for a response, or answer 500.
http::HandleResult on_error(Ctx& c, http::Buffer& out) {
  c.text = nullptr;  // the error handler's answer is a response, never the route's text
  if (c.stage > 0 || !c.e->error_handler || c.e->error_handler == Py_None) {
    log_exception("Exception in request handler");
    write_500(out, c.conn_header());
    return http::HandleResult::Done;
  }
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  PyErr_NormalizeException(&type, &value, &tb);
  if (tb) PyException_SetTraceback(value, tb);
  PyObject* rd = c.request_data();
  PyObject* res = nullptr;
  if (rd) {
    PyObject* args[] = {rd, value};
    res = PyObject_Vectorcall(c.e->error_handler, args, 2, nullptr);
  }
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(tb);
  c.stage = 1;
  if (!res) return on_error(c, out);
  return finish(c, res, out);
}

// `obj` (a new reference) is a value to write or a coroutine to drive.
http::HandleResult finish_offload(Ctx& c, PyObject* obj, http::Buffer& out);

// The access log for a response finished after handle() returned (an awaiting handler, a stream):
// the request's views are gone, so its line comes from the RequestData.
// The status of the response written at `from` ("HTTP/1.1 NNN ...").
int written_status(const http::Buffer& out, size_t from) {
  if (out.size() < from + 12) return 0;
  const char* st = out.data() + from + 9;
  return (st[0] - '0') * 100 + (st[1] - '0') * 10 + (st[2] - '0');
}

void log_access_late(Ctx& c, int status) {
  if (c.e->access_log == Py_None) return;
  PyObject* rd = c.reqdata;
  if (!rd) return;
  PyObject* method = PyObject_GetAttrString(rd, "method");
  PyObject* raw_path = PyObject_GetAttrString(rd, "raw_path");
  PyObject* query = PyObject_GetAttrString(rd, "query_string");
  PyObject* client = PyObject_GetAttrString(rd, "client");
  PyObject* version = PyObject_GetAttrString(rd, "http_version");
  PyObject* r = nullptr;
  if (method && raw_path && query && client && version && PyBytes_Check(raw_path) && PyBytes_Check(query)) {
    std::string target(PyBytes_AS_STRING(raw_path), size_t(PyBytes_GET_SIZE(raw_path)));
    if (PyBytes_GET_SIZE(query) > 0) {
      target += '?';
      target.append(PyBytes_AS_STRING(query), size_t(PyBytes_GET_SIZE(query)));
    }
    PyObject* who = client != Py_None ? Py_NewRef(client) : Py_BuildValue("(si)", "-", 0);
    // X-Forwarded-For (b"" if absent): the log names the client behind a trusted proxy
    PyObject* xff = nullptr;
    PyObject* headers = PyObject_GetAttrString(rd, "headers");
    if (headers && PyList_Check(headers)) {
      for (Py_ssize_t i = 0; i < PyList_GET_SIZE(headers) && !xff; ++i) {
        PyObject* h = PyList_GET_ITEM(headers, i);
        if (PyTuple_Check(h) && PyTuple_GET_SIZE(h) == 2 && PyBytes_Check(PyTuple_GET_ITEM(h, 0)) &&
            std::string_view(PyBytes_AS_STRING(PyTuple_GET_ITEM(h, 0)),
                             size_t(PyBytes_GET_SIZE(PyTuple_GET_ITEM(h, 0)))) == "x-forwarded-for")
          xff = Py_NewRef(PyTuple_GET_ITEM(h, 1));
      }
    }
    PyErr_Clear();
    Py_XDECREF(headers);
    if (!xff) xff = PyBytes_FromStringAndSize("", 0);
    r = who && xff ? PyObject_CallFunction(c.e->access_log, "OOs#OiO", who, method, target.data(),
                                           Py_ssize_t(target.size()), version, status, xff)
                   : nullptr;
    Py_XDECREF(xff);
    Py_XDECREF(who);
  }
  if (!r) PyErr_WriteUnraisable(c.e->access_log);
  Py_XDECREF(r);
  Py_XDECREF(method);
  Py_XDECREF(raw_path);
  Py_XDECREF(query);
  Py_XDECREF(client);
  Py_XDECREF(version);
}

// `resp` (a new reference), a StreamingResponse: its head now (Transfer-Encoding: chunked, or a
// close-delimited body on HTTP/1.0), then resp._engine_stream(sink) runs its iterator as a task
// that writes through the sink; the connection stays pending until the sink is closed.
// A streaming response's own Content-Length (`resp.content_length`, an int; absent or None: -1).
static int64_t declared_length(PyObject* resp) {
  PyObject* v = PyObject_GetAttrString(resp, "content_length");
  if (!v) {
    if (!PyErr_ExceptionMatches(PyExc_AttributeError)) return -2;
    PyErr_Clear();
    return -1;
  }
  long long n = v == Py_None ? -1 : PyLong_AsLongLong(v);
  Py_DECREF(v);
  if (n == -1 && PyErr_Occurred()) return -2;
  return n < 0 ? -1 : int64_t(n);
}

http::HandleResult start_stream(Ctx& c, PyObject* resp, http::Buffer& out) {
  // With the app's Content-Length the body is framed by it (as uvicorn sends it, keep-alive on
  // HTTP/1.0 too); without, chunked (close-delimited on HTTP/1.0).
  const int64_t length = declared_length(resp);
  if (length == -2) {
    Py_DECREF(resp);
    return on_error(c, out);
  }
  const bool framed = length >= 0;
  const bool chunked = !c.http10 && !framed;
  const ConnHeader conn = c.http10 && !framed ? ConnHeader::Close : c.conn_header();
  const size_t start = out.size();
  int status = write_response_head(resp, conn, out);
  if (status < 0) {
    Py_DECREF(resp);
    return on_error(c, out);
  }
  if (c.e->access_log != Py_None && c.request_data()) log_access_late(c, status);  // at the head, as uvicorn
  const bool bodyless = bodyless_status(status);
  if (framed && !bodyless) {
    out.append("Content-Length: ");
    append_uint(out, uint64_t(length));
    out.append("\r\n");
  } else if (chunked && !bodyless) {
    out.append("Transfer-Encoding: chunked\r\n");
  }
  out.append("\r\n");
  PyObject* sink = make_stream_sink(c.e, c.link, chunked, c.head_only || bodyless, framed && !bodyless ? length : -1);
  PyObject* r = sink ? PyObject_CallMethod(resp, "_engine_stream", "O", sink) : nullptr;
  Py_DECREF(resp);
  if (!r) {
    if (sink) stream_sink_detach(sink);  // nothing was sent yet: answer the error instead
    Py_XDECREF(sink);
    out.truncate(start);
    return on_error(c, out);
  }
  Py_DECREF(r);
  Py_DECREF(sink);
  c.req = nullptr;  // the request's views die with this call
  c.context = nullptr;
  return http::HandleResult::Pending;
}

// The handler goes on after this call (an asyncio task, a worker): the connection waits for `comp`
// (a new reference, consumed) to be done. The request's data is kept (its views die with this
// call), so the late result can still be written; without memory for it the result is dropped.
http::HandleResult await_completion(Ctx& c, CompletionObject* comp, http::Buffer& out) {
  if (!c.request_data()) {
    Py_DECREF(comp);
    return on_error(c, out);
  }
  c.req = nullptr;
  c.context = nullptr;
  comp->ctx = new Ctx(c);
  Py_INCREF(c.e);
  Py_XINCREF(c.reqdata);
  Py_DECREF(comp);
  return http::HandleResult::Pending;
}

// `coro` (a new reference) runs as an asyncio task from its first step (engine.task_starter):
// written now if that step finished it, else the connection waits for the task's completion.
http::HandleResult start_task(Ctx& c, PyObject* coro, http::Buffer& out) {
  PyTypeObject* ct = c.e->st->completion_type;
  auto* comp = reinterpret_cast<CompletionObject*>(ct->tp_alloc(ct, 0));
  if (!comp) {
    Py_DECREF(coro);
    return on_error(c, out);
  }
  comp->ctx = nullptr;  // filled below if the task goes on (its done() comes on a later loop turn)
  PyObject* args[] = {coro, reinterpret_cast<PyObject*>(comp)};
  PyObject* r = PyObject_Vectorcall(c.e->task_starter, args, 2, nullptr);
  Py_DECREF(coro);
  if (!r) {
    Py_DECREF(comp);
    return on_error(c, out);
  }
  if (PyTuple_CheckExact(r) && PyTuple_GET_SIZE(r) == 1) {  // finished in its first step
    Py_DECREF(comp);
    PyObject* value = Py_NewRef(PyTuple_GET_ITEM(r, 0));
    Py_DECREF(r);
    stage_mark(kCallEnd);
    return finish(c, value, out);
  }
  Py_DECREF(r);
  return await_completion(c, comp, out);
}

#ifndef PYPY_VERSION
// The engine's idle worker (engine.task_hooks) for `loop`, taken out of the engine's cache (new
// references in worker and task), or false (no exception set): the task_starter's path.
bool take_worker(EngineObject* e, PyObject* hooks, PyObject* loop, PyObject*& worker, PyObject*& task) {
  if (e->step_worker && e->step_loop == loop) {  // (a worker its loop closed: handoff sees it)
    worker = e->step_worker;
    task = e->step_task;
    e->step_worker = e->step_task = nullptr;
    Py_CLEAR(e->step_loop);
    return true;
  }
  if (e->step_worker) {  // another loop's (an in-memory engine driven from several loops)
    PyObject* r = PyObject_CallOneArg(PyTuple_GET_ITEM(hooks, 4), e->step_worker);
    if (!r) PyErr_WriteUnraisable(e->step_worker);
    Py_XDECREF(r);
  }
  Py_CLEAR(e->step_worker);
  Py_CLEAR(e->step_task);
  Py_CLEAR(e->step_loop);
  worker = PyObject_CallOneArg(PyTuple_GET_ITEM(hooks, 3), loop);
  task = worker ? PyObject_GetAttrString(worker, "task") : nullptr;
  if (!task) {
    Py_CLEAR(worker);
    PyErr_Clear();
    return false;
  }
  return true;
}

// An idle worker back into the engine's cache (or, the cache being full, its pool). Steals both.
void put_worker(EngineObject* e, PyObject* hooks, PyObject* loop, PyObject* worker, PyObject* task) {
  if (!e->step_worker) {
    e->step_worker = worker;
    e->step_task = task;
    e->step_loop = Py_NewRef(loop);
    return;
  }
  PyObject* r = PyObject_CallOneArg(PyTuple_GET_ITEM(hooks, 4), worker);
  if (!r) PyErr_WriteUnraisable(worker);
  Py_XDECREF(r);
  Py_DECREF(worker);
  Py_DECREF(task);
}

// asyncio's _enter_task(loop, task) (args: {loop, task}): with `current` (asyncio's own
// _current_tasks dict), its two dict edits done here as its C implementation does them, else the
// hook called. False: an exception is set, or (current) a task is current already.
bool enter_task(PyObject* hooks, PyObject* current, PyObject* const* args) {
  if (current) {  // one lookup: the task stored, or the one current already
    PyObject* now = PyDict_SetDefault(current, args[0], args[1]);
    if (now && now != args[1])
      PyErr_Format(PyExc_RuntimeError, "Cannot enter into task %R while another task %R is being executed.", args[1],
                   now);
    return now == args[1];
  }
  PyObject* r = PyObject_Vectorcall(PyTuple_GET_ITEM(hooks, 1), args, 2, nullptr);
  Py_XDECREF(r);
  return r != nullptr;
}

// asyncio's _leave_task(loop, task), likewise (one lookup: popped, put back if it was not `task`).
// False: an exception is set.
bool leave_task(PyObject* hooks, PyObject* current, PyObject* const* args) {
  if (current) {
#if PY_VERSION_HEX >= 0x030D0000
    PyObject* now = nullptr;
    if (PyDict_Pop(current, args[0], &now) < 0) return false;
#else
    PyObject* now = _PyDict_Pop(current, args[0], Py_None);
    if (!now) return false;
#endif
    bool same = now == args[1];
    if (!same) {
      if (now && now != Py_None && PyDict_SetItem(current, args[0], now) < 0) PyErr_Clear();
      PyErr_Format(PyExc_RuntimeError, "Leaving task %R does not match the current task %R.", args[1],
                   now ? now : Py_None);
    }
    Py_XDECREF(now);
    return same;
  }
  PyObject* r = PyObject_Vectorcall(PyTuple_GET_ITEM(hooks, 2), args, 2, nullptr);
  Py_XDECREF(r);
  return r != nullptr;
}

// The first step of a handler's coroutine (a new reference, consumed unless nullopt is returned),
// taken here as fasterapi._runtime.start_task takes it, without its Python frame: under the
// request's own context (c.context, entered by serve_with_python), with a parked worker task as
// asyncio's current task (asyncio's own _enter_task/_leave_task). Finished in that step: written
// now, the worker stays idle. Awaiting: the worker continues the coroutine under the same context
// (task_hooks' handoff) and the connection waits for it. nullopt (nothing ran): no running loop,
// already inside a task, no hooks: the task_starter's path.
std::optional<http::HandleResult> first_step(Ctx& c, PyObject* coro, http::Buffer& out) {
  EngineObject* e = c.e;
  PyObject* hooks = e->task_hooks;
  if (!c.context || !PyTuple_CheckExact(hooks) || PyTuple_GET_SIZE(hooks) < 6 || PyTuple_GET_SIZE(hooks) > 7)
    return std::nullopt;
  // asyncio's own current-task dict (_asyncio._current_tasks, which _enter_task/_leave_task edit
  // and current_task() reads), when task_hooks gives it: the same two edits without the calls.
  PyObject* current = PyTuple_GET_SIZE(hooks) == 7 ? PyTuple_GET_ITEM(hooks, 6) : nullptr;
  if (current && !PyDict_CheckExact(current)) current = nullptr;
  PyObject* first = PyTuple_GET_ITEM(hooks, 0);  // the running loop's getter, or the engine's loop
  PyObject* loop = PyCallable_Check(first) ? PyObject_CallNoArgs(first) : Py_NewRef(first);
  if (!loop || loop == Py_None) {
    Py_XDECREF(loop);
    PyErr_Clear();
    return std::nullopt;
  }
  PyObject *worker, *task;
  if (!take_worker(e, hooks, loop, worker, task)) {
    Py_DECREF(loop);
    return std::nullopt;
  }
  PyObject* args[] = {loop, task};
  if (!enter_task(hooks, current, args)) {  // (a current task already: a completion running the next pipelined request)
    PyErr_Clear();
    put_worker(e, hooks, loop, worker, task);
    Py_DECREF(loop);
    return std::nullopt;
  }
  stage_mark(kCallStart);
  PyObject* res = nullptr;
  PySendResult sent = PyIter_Send(coro, Py_None, &res);
  if (sent == PYGEN_ERROR) {  // the handler's exception kept aside while the task is left
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (!leave_task(hooks, current, args)) PyErr_WriteUnraisable(task);
    PyErr_Restore(type, value, tb);
  } else if (!leave_task(hooks, current, args)) {
    PyErr_WriteUnraisable(task);
  }
  if (sent != PYGEN_NEXT) {
    put_worker(e, hooks, loop, worker, task);
    Py_DECREF(loop);
    Py_DECREF(coro);
    if (sent == PYGEN_ERROR) return on_error(c, out);
    stage_mark(kCallEnd);
    return finish(c, res, out);
  }
  Py_DECREF(loop);
  // It awaits: the worker goes on with it; done(outcome) answers (a CompletionObject, as start_task).
  PyTypeObject* ct = c.e->st->completion_type;
  auto* comp = reinterpret_cast<CompletionObject*>(ct->tp_alloc(ct, 0));
  PyObject* ok = nullptr;
  if (comp) {
    comp->ctx = nullptr;
    PyObject* hargs[] = {worker, coro, c.context, res, reinterpret_cast<PyObject*>(comp)};
    ok = PyObject_Vectorcall(PyTuple_GET_ITEM(hooks, 5), hargs, 5, nullptr);
  }
  Py_DECREF(worker);
  Py_DECREF(task);
  Py_DECREF(coro);
  Py_DECREF(res);
  if (!ok) {
    Py_XDECREF(comp);
    return on_error(c, out);
  }
  Py_DECREF(ok);
  return await_completion(c, comp, out);
}
#endif

// A Starlette response a compiled endpoint returned whose class's __call__ is Response.__call__
// (Wire._plain_call) and without a background task: 1, written from its status, raw headers and
// body here, as Wire._from_foreign would copy them (only while no middleware edit applies);
// 0: through _from_foreign; -1: an exception.
int plain_foreign(EngineObject* e, PyObject* obj) {
  if (!e->compiled_headers->empty()) return 0;
  PyObject* want = PyObject_GetAttrString(e->response_type, "_plain_call");
  if (!want) {
    PyErr_Clear();
    return 0;
  }
  PyObject* have = PyObject_GetAttrString(reinterpret_cast<PyObject*>(Py_TYPE(obj)), "__call__");
  bool same = have == want;
  Py_DECREF(want);
  if (!have) PyErr_Clear();
  Py_XDECREF(have);
  if (!same) return 0;
  PyObject* bg = PyObject_GetAttrString(obj, "background");
  if (!bg) return -1;
  bool none = bg == Py_None;
  Py_DECREF(bg);
  return none ? 1 : 0;
}

http::HandleResult finish(Ctx& c, PyObject* obj, http::Buffer& out) {
  if (c.e->offload && offload_is_marker(c.e, obj)) return finish_offload(c, obj, out);
  if (PyCoro_CheckExact(obj) && c.e->task_starter != Py_None) {
#ifndef PYPY_VERSION
    if (c.e->task_hooks != Py_None)
      if (auto hr = first_step(c, obj, out)) return *hr;
#endif
    return start_task(c, obj, out);
  }
  if (PyCoro_CheckExact(obj)) {
    PyObject* res = nullptr;
    PySendResult r = PyIter_Send(obj, Py_None, &res);
    if (r == PYGEN_RETURN) {
      stage_mark(kCallEnd);
      Py_DECREF(obj);
      obj = res;
    } else if (r == PYGEN_ERROR) {
      Py_DECREF(obj);
      return on_error(c, out);
    } else {
      // It really awaits: continue as an asyncio task; the connection waits for it.
      if (!c.request_data()) {
        Py_DECREF(obj);
        Py_DECREF(res);
        return on_error(c, out);
      }
      c.req = nullptr;  // the views die with this call
      c.context = nullptr;
      PyTypeObject* ct = c.e->st->completion_type;
      auto* comp = reinterpret_cast<CompletionObject*>(ct->tp_alloc(ct, 0));
      if (!comp) {
        Py_DECREF(obj);
        Py_DECREF(res);
        return on_error(c, out);
      }
      comp->ctx = new Ctx(c);
      Py_INCREF(c.e);
      Py_XINCREF(c.reqdata);
      PyObject* args[] = {obj, res, reinterpret_cast<PyObject*>(comp)};
      PyObject* ok = PyObject_Vectorcall(c.e->resume, args, 3, nullptr);
      Py_DECREF(obj);
      Py_DECREF(res);
      Py_DECREF(comp);
      if (!ok) return on_error(c, out);
      Py_DECREF(ok);
      return http::HandleResult::Pending;
    }
  }
  if (c.text) {
    PyObject* text = c.text;
    c.text = nullptr;
    if (PyUnicode_CheckExact(obj)) {
      int rc = write_text(obj, PyTuple_GET_ITEM(text, 0), c.status, c.head_only, c.conn_header(), out,
                          *c.e->compiled_headers);
      Py_DECREF(obj);
      return rc < 0 ? on_error(c, out) : http::HandleResult::Done;
    }
    PyObject* next = PyObject_CallOneArg(PyTuple_GET_ITEM(text, 1), obj);
    Py_DECREF(obj);
    if (!next) return on_error(c, out);
    return finish(c, next, out);
  }
  if (c.json_bytes && PyBytes_CheckExact(obj)) {
    c.json_bytes = false;
    write_json_bytes(obj, c.status, c.head_only, c.conn_header(), out, c.e->perf->zero_copy_min,
                     *c.e->compiled_headers);
    Py_DECREF(obj);
    return http::HandleResult::Done;
  }
  c.json_bytes = false;
  if (!plain_json_type(Py_TYPE(obj)) && type_defines(Py_TYPE(obj), "_engine_stream")) {
    // A StreamingResponse whose body has not been collected: its chunks leave as they come.
    PyObject* nc = PyObject_GetAttrString(obj, "needs_collect");
    int needs = nc ? PyObject_IsTrue(nc) : -1;
    Py_XDECREF(nc);
    if (needs < 0) {
      Py_DECREF(obj);
      return on_error(c, out);
    }
    if (needs) return start_stream(c, obj, out);
  }
  if (c.fast && !plain_json_type(Py_TYPE(obj))) {
    // A Response from a fast-path endpoint that still needs Python (a body to collect,
    // background tasks to schedule) goes through its _engine_finish() once.
    c.fast = false;
    int is_resp = PyObject_IsInstance(obj, c.e->response_type);
    if (is_resp < 0) {
      Py_DECREF(obj);
      return on_error(c, out);
    }
    if (is_resp) {
      PyObject* nc = PyObject_GetAttrString(obj, "needs_collect");
      PyObject* bg = nc ? PyObject_GetAttrString(obj, "background") : nullptr;
      int needs = nc && bg ? (PyObject_IsTrue(nc) == 1 || bg != Py_None) : -1;
      Py_XDECREF(nc);
      Py_XDECREF(bg);
      if (needs < 0) {
        Py_DECREF(obj);
        return on_error(c, out);
      }
      if (needs) {
        PyObject* next = PyObject_CallMethod(obj, "_engine_finish", nullptr);
        Py_DECREF(obj);
        if (!next) return on_error(c, out);
        return finish(c, next, out);
      }
#ifdef PYPY_VERSION
    } else if (PyCallable_Check(obj) && type_defines(Py_TYPE(obj), "init_headers")) {  // cpyext: no tp_call
#else
    } else if (Py_TYPE(obj)->tp_call && type_defines(Py_TYPE(obj), "init_headers")) {
#endif
      // A foreign response class (Starlette's, callable as an ASGI app): converted to ours by
      // response_type._from_foreign(obj), then finished as one (collect, background tasks).
      // Models and other non-callable results never get here.
      int plain = plain_foreign(c.e, obj);
      if (plain != 0) {
        int rc =
            plain < 0 ? -1 : write_response_object(obj, c.head_only, c.conn_header(), out, c.e->perf->zero_copy_min);
        Py_DECREF(obj);
        return rc < 0 ? on_error(c, out) : http::HandleResult::Done;
      }
      PyObject* rd = c.request_data();  // the response's own __call__ reads the request's scope
      PyObject* next = rd ? PyObject_CallMethod(c.e->response_type, "_from_foreign", "OO", obj, rd) : nullptr;
      bool converted = next != obj;  // an unknown class comes back as it was: written as JSON
      Py_DECREF(obj);
      if (!next) return on_error(c, out);
      c.fast = converted;
      return finish(c, next, out);
    }
  }
  int rc = write_result(c.e, obj, c.status, c.head_only, c.conn_header(), out);
  Py_DECREF(obj);
  if (rc < 0) return on_error(c, out);
  return http::HandleResult::Done;
}

// A constant route's first complete response (a GET answered without a Connection header) is kept
// and replayed from then on.
void capture_route_response(EngineObject* e, int route, const http::Buffer& out, size_t from) {
  Route& r = (*e->routes)[size_t(route)];
  if (!r.static_response) r.static_response = capture_static(out, from);
}

// Did the streamed body of this request fail before its response was made?
bool streamed_body_failed(Ctx& c, http::Connection& conn) {
  if (conn.body_failure()) return true;
  if (!conn.peer_closed() || !c.reqdata) return false;
  PyObject* reader = PyObject_GetAttrString(c.reqdata, "body_reader");
  if (!reader) {
    PyErr_Clear();
    return false;
  }
  bool cut = false;
  if (reader != Py_None) {
    PyObject* aborted = PyObject_GetAttrString(reader, "aborted");
    PyObject* done = PyObject_GetAttrString(reader, "done");
    cut = aborted == Py_True && done != Py_True;
    Py_XDECREF(aborted);
    Py_XDECREF(done);
    PyErr_Clear();
  }
  Py_DECREF(reader);
  return cut;
}

PyObject* completion_call(PyObject* self, PyObject* args, PyObject*) {
  // done(task): called by the asyncio task when the handler finishes.
  auto* comp = reinterpret_cast<CompletionObject*>(self);
  PyObject* task;
  if (!PyArg_ParseTuple(args, "O", &task)) return nullptr;
  Ctx* c = comp->ctx;
  if (!c) Py_RETURN_NONE;
  http::Connection* conn = c->link->conn;
  if (!conn) Py_RETURN_NONE;  // the client went away: drop the response
  // (reading stopped: a streamed body failed meanwhile; the connection closes after this)
  if (conn->draining() || conn->reading_stopped()) c->close = true;
  PyObject* res = PyObject_CallMethod(task, "result", nullptr);
  if (streamed_body_failed(*c, *conn)) {
    // The engine refused the streamed body (malformed, over the limit, too slow: its own 4xx
    // verdict, as for a buffered body) or the client went away mid-body (no answer at all): what
    // the app made of the disconnect it was told about is not sent.
    if (!res) PyErr_Clear();
    Py_XDECREF(res);
    if (int status = conn->body_failure()) http::write_error(conn->output(), status, true);
    conn->complete();
    if (c->link->kick) c->link->kick();
    Py_RETURN_NONE;
  }
  conn->output().materialize();  // positions below stay valid
  size_t out_before = conn->output().size();
  http::HandleResult hr = res ? finish(*c, res, conn->output()) : on_error(*c, conn->output());
  if (hr == http::HandleResult::Done && c->static_route >= 0 && c->stage == 0)
    capture_route_response(c->e, c->static_route, conn->output(), out_before);
  if (hr == http::HandleResult::Done) {
    if (c->e->access_log != Py_None) { log_access_late(*c, written_status(conn->output(), out_before)); }
    conn->complete();
    if (c->link->kick) c->link->kick();
  }
  Py_RETURN_NONE;
}

void completion_dealloc(PyObject* self) {
  auto* comp = reinterpret_cast<CompletionObject*>(self);
  PyTypeObject* tp = Py_TYPE(self);
  if (comp->ctx) {
    Py_XDECREF(comp->ctx->reqdata);
    Py_DECREF(comp->ctx->e);
    delete comp->ctx;
  }
  tp->tp_free(self);
  Py_DECREF(tp);
}

PyType_Slot completion_slots[] = {{Py_tp_call, reinterpret_cast<void*>(boundary<completion_call>)},
                                  {Py_tp_dealloc, reinterpret_cast<void*>(boundary<completion_dealloc>)},
                                  {0, nullptr}};

}  // namespace

PyType_Spec completion_spec = {"fasterapi._core.Completion", sizeof(CompletionObject), 0, Py_TPFLAGS_DEFAULT,
                               completion_slots};

// ---- deferred responses (the blocking pool, batches: offload.hpp) --------------------------------

struct Deferred {
  Ctx c;
};

namespace {
// The request's context, kept past handle(): its RequestData is made now (the views die).
Deferred* defer(Ctx& c) {
  if (!c.request_data()) return nullptr;
  auto* d = new Deferred{c};
  d->c.req = nullptr;
  d->c.context = nullptr;
  Py_INCREF(d->c.e);
  Py_INCREF(d->c.reqdata);
  return d;
}
}  // namespace

void deferred_free(Deferred* d) {
  Py_XDECREF(d->c.reqdata);
  Py_DECREF(d->c.e);
  delete d;
}

bool deferred_alive(const Deferred* d) { return d->c.link->conn != nullptr; }

namespace {
// A handler's _runtime.Offload(call, then): call() on the pool, then(result, exc) on the loop.
http::HandleResult finish_offload(Ctx& c, PyObject* obj, http::Buffer& out) {
  Deferred* d = nullptr;
  if (offload_ready(c.e, true))
    d = defer(c);
  else
    PyErr_SetString(PyExc_RuntimeError, "the engine's native pool is unavailable");
  if (!d) {
    Py_DECREF(obj);
    return on_error(c, out);
  }
  offload_then(c.e, obj, d);
  return http::HandleResult::Pending;
}
}  // namespace

void deferred_finish(Deferred* d, PyObject* value, int status) {
  Ctx& c = d->c;
  http::Connection* conn = c.link->conn;
  if (!conn) {  // the client went away: drop the answer
    if (value)
      Py_DECREF(value);
    else
      PyErr_Clear();
    deferred_free(d);
    return;
  }
  if (conn->draining() || conn->reading_stopped()) c.close = true;
  if (status > 0) c.status = status;
  conn->output().materialize();  // positions below stay valid
  const size_t out_before = conn->output().size();
  http::HandleResult hr = value ? finish(c, value, conn->output()) : on_error(c, conn->output());
  if (hr == http::HandleResult::Done) {
    if (c.e->access_log != Py_None) log_access_late(c, written_status(conn->output(), out_before));
    conn->complete();
    if (c.link->kick) c.link->kick();
  }
  deferred_free(d);
}

// ---- the dispatcher ---------------------------------------------------------------------------

BridgeDispatcher::BridgeDispatcher(EngineObject* e, std::string host, int port)
    : engine(e), client_host(std::move(host)), client_port(port) {
  Py_INCREF(engine);
}

BridgeDispatcher::~BridgeDispatcher() { Py_DECREF(engine); }

// Does this request go through the Python routing (the app's middleware)?
static bool python_routed(const std::vector<std::string>& headers, const http::Request& req) {
  if (headers.empty()) return true;
  for (uint32_t i = 0; i < req.num_headers; ++i)
    for (const std::string& h : headers)
      if (iequals(req.headers[i].name, h)) return true;
  return false;
}

bool BridgeDispatcher::route(const http::Request& req) {
  stage_mark(kRouteStart);
  if (needs_decode(req.path, false))
    percent_decode(req.path, path_, false);
  else
    path_.assign(req.path);
  if (engine->python_routing && python_routed(*engine->python_routing_headers, req)) {
    match_.kind = router::Match::NotFound;
    match_.num_captures = 0;
  } else {
    engine->router->match(req.method, path_, match_);
  }
  routed_ = true;
  stage_mark(kRouteEnd);
  return match_.kind == router::Match::Found;
}

// engine.stream_bodies: a body bound for app_handler (no native route, or Python routing) is
// streamed; a routed request keeps its whole body (the fast path validates it at once).
bool BridgeDispatcher::stream_body(const http::Request& head) {
  if (!engine->stream_bodies || head.websocket_upgrade) return false;
  if (!routed_) route(head);
  return match_.kind != router::Match::Found;
}

bool BridgeDispatcher::attach_body_reader(PyObject* request_data) {
  PyObject* reader = make_body_reader(engine->st, link);
  if (!reader) return false;
  set_body_reader(request_data, reader);
  return true;
}

uint64_t BridgeDispatcher::body_limit(const http::Request& head) {
  if (route(head)) {
    int64_t lim = (*engine->routes)[size_t(match_.route)].body_limit;
    if (lim >= 0) {
      // A native route buffers its body up to its own limit. With streamed bodies on, a larger
      // (or chunked, so unknown) body is no error: the request goes to app_handler instead,
      // streamed, under the engine's limit (a compiled FastAPI route: FastAPI's own path).
      if (!engine->stream_bodies || head.websocket_upgrade || (!head.chunked && head.content_length <= uint64_t(lim)))
        return uint64_t(lim);
      match_.kind = router::Match::NotFound;
      match_.num_captures = 0;
    }
  }
  return engine->limits->max_body;
}

#ifdef PYPY_VERSION
// PyPy's cpyext has no PyContext_CopyCurrent/Enter/Exit; its contextvars (lib_pypy/_contextvars.py)
// keep the current context in __pypy__.get/set_contextvar_context, as Context.run does. Enter sets
// a copy of the current context and returns the previous one (None: none yet) for exit to restore.
// (One interpreter on PyPy: the functions are looked up once, process-wide.)
static PyObject* pypy_context_enter() {
  static PyObject *get = nullptr, *set = nullptr, *copy = nullptr;
  if (!copy) {
    PyObject* pypy = PyImport_ImportModule("__pypy__");
    PyObject* cv = pypy ? PyImport_ImportModule("_contextvars") : nullptr;
    if (cv) {
      get = PyObject_GetAttrString(pypy, "get_contextvar_context");
      set = PyObject_GetAttrString(pypy, "set_contextvar_context");
      copy = get && set ? PyObject_GetAttrString(cv, "copy_context") : nullptr;
    }
    Py_XDECREF(pypy);
    Py_XDECREF(cv);
    if (!copy) return nullptr;
  }
  PyObject* prev = PyObject_CallNoArgs(get);
  PyObject* ctx = prev ? PyObject_CallNoArgs(copy) : nullptr;
  PyObject* r = ctx ? PyObject_CallOneArg(set, ctx) : nullptr;
  Py_XDECREF(ctx);
  if (!r) Py_CLEAR(prev);
  Py_XDECREF(r);
  return prev;
}
static int pypy_context_exit(PyObject* prev) {
  PyObject* pypy = PyImport_ImportModule("__pypy__");
  PyObject* r = pypy ? PyObject_CallMethod(pypy, "set_contextvar_context", "O", prev) : nullptr;
  Py_XDECREF(pypy);
  Py_XDECREF(r);
  return r ? 0 : -1;
}
#endif

// Out of memory while serving one request fails that request, never the process: whatever it
// wrote is dropped and it is answered 503 with "Connection: close" (the connection's state after a
// half-served request is not trusted for the next one).
http::HandleResult BridgeDispatcher::handle(const http::Request& req, http::Buffer& out) {
  out.materialize();  // a zero-copy body still in the output is copied in first (pipelining)
  size_t out_before = out.size();
  try {
    fail_allocation_if_injected();
    return serve(req, out);
  } catch (const std::bad_alloc&) {
    routed_ = false;
    if (PyErr_Occurred()) PyErr_WriteUnraisable(nullptr);
    out.truncate(out_before);
    write_503_close(out);
    if (link->conn) link->conn->close_after_response();
    return http::HandleResult::Done;
  }
}

// The stages are declared inline (engine.hpp), each called from one place: the compiler can make
// them one function again, as before the split; out-of-line calls cost measurably (~25 ns/request
// on a compiled route with parameters, bench_cpu).
// The request pipeline, one stage per function: route (done at head time when the body limit was
// asked) -> a WebSocket handshake, or a response made without Python (constant, C ABI), or the
// Python side (the route's plan, the Python handler or the app) -> the access log.
http::HandleResult BridgeDispatcher::serve(const http::Request& req, http::Buffer& out) {
  stage_mark(kHandleStart);
  if (!routed_) route(req);
  routed_ = false;
  if (req.websocket_upgrade)  // a WebSocket handshake (bridge/websocket.cpp)
    return handle_websocket(engine, link, req, path_, client_host, client_port, out);
  if (server::metrics::enabled() && metrics_begin(req, out)) return http::HandleResult::Done;
  Route* matched = match_.kind == router::Match::Found ? &(*engine->routes)[size_t(match_.route)] : nullptr;
  size_t out_before = out.size();
  http::HandleResult hr = matched && serve_without_python(*matched, req, out) ? http::HandleResult::Done
                                                                              : serve_with_python(matched, req, out);
  stage_mark(kHandleEnd);
  if (engine->access_log != Py_None && hr == http::HandleResult::Done) log_access(req, out, out_before);
  return hr;
}

// Constant routes (their captured response replayed with this request's Date and Connection) and
// C ABI routes (fasterapi_native.h): no request context, no Python object, no Python API call.
inline bool BridgeDispatcher::serve_without_python(const Route& r, const http::Request& req, http::Buffer& out) {
  if (!r.static_response && !r.native) return false;
  ConnHeader conn = !req.keep_alive          ? ConnHeader::Close
                    : req.version_minor == 0 ? ConnHeader::KeepAlive
                                             : ConnHeader::None;
  stage_mark(kCallStart);  // for a constant route, no handler: the replay is the serialize stage
  if (r.static_response) {
    ++engine->perf->counters.static_hits;
    stage_mark(kCallEnd);
    write_static(*r.static_response, req.is_head, conn, out);
  } else {
    ++engine->perf->counters.native_calls;
    run_native(reinterpret_cast<NativeHandlerObject*>(r.native), req, path_, match_, client_host, client_port, conn,
               out);
  }
  return true;
}

// A served engine runs each request in its own copy of the loop's contextvars context, as an ASGI
// server's task per request would: a ContextVar a handler sets never reaches the next.
class RequestContext {
 public:
  explicit RequestContext(EngineObject* e) {
    if (e->task_starter == Py_None) return;
#ifdef PYPY_VERSION
    context_ = pypy_context_enter();  // the previous context, restored by leave()
#else
    context_ = PyContext_CopyCurrent();
    if (context_ && PyContext_Enter(context_) < 0) Py_CLEAR(context_);
#endif
    if (!context_) PyErr_Clear();
  }
  ~RequestContext() { leave(); }
  RequestContext(const RequestContext&) = delete;
  RequestContext& operator=(const RequestContext&) = delete;
  // The entered context (borrowed), or nullptr (none, or PyPy, where context_ is the previous one).
  PyObject* entered() const {
#ifdef PYPY_VERSION
    return nullptr;
#else
    return context_;
#endif
  }
  void leave() {
    if (!context_) return;
#ifdef PYPY_VERSION
    if (pypy_context_exit(context_) < 0) PyErr_WriteUnraisable(context_);
#else
    if (PyContext_Exit(context_) < 0) PyErr_WriteUnraisable(context_);
#endif
    Py_CLEAR(context_);
  }

 private:
  PyObject* context_ = nullptr;
};

inline http::HandleResult BridgeDispatcher::serve_with_python(Route* r, const http::Request& req, http::Buffer& out) {
  size_t out_before = out.size();
  RequestContext context(engine);
  Ctx c{engine, link};
  c.context = context.entered();
  c.req = &req;
  c.path = path_;
  c.match = &match_;
  c.host = &client_host;
  c.port = client_port;
  c.head_only = req.is_head;
  c.close = !req.keep_alive;
  c.http10 = req.version_minor == 0;
  http::HandleResult hr = r ? run_route(c, *r, req, out) : call_app_handler(c, req, out);
  context.leave();
  if (c.static_route >= 0 && hr == http::HandleResult::Done && c.stage == 0)
    capture_route_response(engine, c.static_route, out, out_before);
  Py_CLEAR(c.reqdata);  // a pending completion holds its own reference
  return hr;
}

// No route matched (or routing is Python's): the app's own handler (its ASGI interface).
inline http::HandleResult BridgeDispatcher::call_app_handler(Ctx& c, const http::Request& req, http::Buffer& out) {
  PyObject* rd = c.request_data();
  if (rd && req.body_streamed && !attach_body_reader(rd)) rd = nullptr;  // (its error: on_error)
  ++engine->perf->counters.python_path;
  stage_mark(kCallStart);
  PyObject* result = rd ? PyObject_Vectorcall(engine->app_handler, &rd, 1, nullptr) : nullptr;
  stage_mark(kCallEnd);
  return result ? finish(c, result, out) : on_error(c, out);
}

// A matched route: its batch, else its compiled plan, else its Python handler.
inline http::HandleResult BridgeDispatcher::run_route(Ctx& c, Route& r, const http::Request& req, http::Buffer& out) {
  if (auto hr = join_batch(c, req)) return *hr;
  if (r.is_static && !c.head_only && c.conn_header() == ConnHeader::None) c.static_route = match_.route;
  if (r.has_plan && (!r.guard || plan_holds(engine->st, r.guard)))
    if (auto hr = run_plan(c, r, req, out)) return *hr;
  return call_route_handler(c, r, out);
}

// A batch route: a valid JSON body joins the route's next batch (the connection waits); anything
// else (nullopt) goes on to the route's handler (its 422).
inline std::optional<http::HandleResult> BridgeDispatcher::join_batch(Ctx& c, const http::Request& req) {
  if (!engine->offload || offload_kind(engine, match_.route) != RouteKind::Batch) return std::nullopt;
  PyObject* item = batch_validate(engine, match_.route, req);
  if (!item) return std::nullopt;
  if (Deferred* d = offload_ready(engine, false) ? defer(c) : nullptr)
    return batch_enqueue(engine, match_.route, item, d);
  Py_DECREF(item);
  PyErr_Clear();
  return std::nullopt;
}

inline http::HandleResult BridgeDispatcher::call_route_handler(Ctx& c, Route& r, http::Buffer& out) {
  PyObject* rd = c.request_data();
  ++engine->perf->counters.python_path;
  stage_mark(kCallStart);
  PyObject* result = rd ? PyObject_Vectorcall(r.handler, &rd, 1, nullptr) : nullptr;
  stage_mark(kCallEnd);
  return result ? finish(c, result, out) : on_error(c, out);
}

// The arguments of a plan's vectorcall (owned references; released unless handed on).
struct PlanArgs {
  static constexpr size_t kMax = 24;
  PyObject* v[kMax + 1];
  size_t n = 0;
  PlanArgs() = default;
  PlanArgs(const PlanArgs&) = delete;
  PlanArgs& operator=(const PlanArgs&) = delete;
  ~PlanArgs() { release(); }
  void release() {
    for (size_t i = 0; i < n; ++i) Py_DECREF(v[i]);
    n = 0;
  }
};

// The raw text of one plan parameter, or nullopt when the request does not have it. `usable` goes
// false when the request has it in a form only the Python path reads (a quoted cookie).
inline std::optional<std::string_view> BridgeDispatcher::param_text(const PlanParam& p, const http::Request& req,
                                                                    bool& usable) {
  switch (p.source) {
    case ParamSource::Path:
      for (int k = 0; k < match_.num_captures; ++k)
        if (match_.captures[k].name == p.key) return match_.captures[k].value;
      return std::nullopt;
    case ParamSource::Cookie: {
      auto v = http::cookie_lookup(req.header("cookie"), p.key);  // the first Cookie field, as Starlette
      if (v && v->find_first_of("\"\\") != std::string_view::npos) usable = false;  // http.cookies unquotes
      return v;
    }
    case ParamSource::Header: return http::first_header(req, p.key);
    case ParamSource::Query:
      if (req.query.empty() || !http::query_lookup(req.query, p.key, scratch_)) return std::nullopt;
      return std::string_view(scratch_);
  }
  return std::nullopt;
}

// One plan parameter as the endpoint takes it (new reference), or nullptr: take the Python path.
inline PyObject* BridgeDispatcher::param_value(const PlanParam& p, const http::Request& req) {
  bool usable = true;
  std::optional<std::string_view> raw = param_text(p, req, usable);
  if (!usable) return nullptr;
  if (!raw) return p.default_value ? Py_NewRef(p.default_value) : nullptr;
  if (p.kind == ParamKind::Str && (p.source == ParamSource::Cookie || p.source == ParamSource::Header)) {
    // Header and cookie str values are latin-1, as Starlette decodes them.
    PyObject* v = PyUnicode_DecodeLatin1(raw->data(), Py_ssize_t(raw->size()), nullptr);
    if (!v) PyErr_Clear();
    return v;
  }
  PerfState& pf = *engine->perf;
  bool pooled = pf.pool_params && p.kind != ParamKind::Bool;
  PyObject* v = pooled ? pf.pool.get(int(p.kind), *raw) : nullptr;
  if (v) return v;
  v = convert(p.kind, *raw);
  if (!v) {
    PyErr_Clear();
    return nullptr;
  }
  if (pooled) pf.pool.put(int(p.kind), *raw, v);
  return v;
}

// The JSON body validated by the plan's body model (new reference), or nullptr: the Python path.
// No Content-Type: Python decides (the route's strict_content_type, FastAPI's default).
static PyObject* plan_body(const Route& r, const http::Request& req) {
  if (http::media_kind(req.content_type) != http::MediaKind::Json || req.body.empty()) return nullptr;
  PyObject* raw = PyBytes_FromStringAndSize(req.body.data(), Py_ssize_t(req.body.size()));
  PyObject* v = raw ? PyObject_CallOneArg(r.body_validator, raw) : nullptr;
  Py_XDECREF(raw);
  if (!v) PyErr_Clear();
  return v;
}

// Every argument of the plan's call from the request; false: something unusual, the Python path.
inline bool BridgeDispatcher::plan_arguments(Ctx& c, const Route& r, const http::Request& req, PlanArgs& a) {
  if (r.params.size() + 2 > PlanArgs::kMax) return false;  // + the body and the RequestData
  for (const PlanParam& p : r.params) {
    PyObject* v = param_value(p, req);
    if (!v) return false;
    a.v[a.n++] = v;
  }
  if (r.body_validator) {
    PyObject* v = plan_body(r, req);
    if (!v) return false;
    a.v[a.n++] = v;
  }
  if (r.wants_request) {  // `request: Request` somewhere in the plan: its RequestData, last
    PyObject* rd = c.request_data();
    if (!rd) {
      PyErr_Clear();
      return false;
    }
    a.v[a.n++] = Py_NewRef(rd);
  }
  return true;
}

// The fast path: native conversions, one vectorcall (here, or on the native pool for a
// blocking=True route); nullopt: anything unusual, for the route's Python handler.
inline std::optional<http::HandleResult> BridgeDispatcher::run_plan(Ctx& c, Route& r, const http::Request& req,
                                                                    http::Buffer& out) {
  PlanArgs a;
  if (!plan_arguments(c, r, req, a)) return std::nullopt;
  c.status = r.status;
  c.fast = true;
  c.json_bytes = r.json_bytes;
  c.text = r.text;
  if (engine->offload && offload_kind(engine, match_.route) == RouteKind::Blocking && offload_ready(engine, true)) {
    if (Deferred* d = defer(c)) {
      http::HandleResult hr = offload_blocking(engine, r.endpoint, a.v, a.n, r.kwnames, d);  // takes the arguments
      a.n = 0;
      return hr;
    }
    PyErr_Clear();  // (no RequestData: run it here instead)
  }
  ++engine->perf->counters.fast_path;
  stage_mark(kCallStart);
  PyObject* result = PyObject_Vectorcall(r.endpoint, a.v, 0, r.kwnames);
  stage_mark(kCallEnd);
  a.release();
  return result ? finish(c, result, out) : on_error(c, out);
}

// One line per request to the access log callable, the status read back from the status line
// just written ("HTTP/1.1 NNN").
void BridgeDispatcher::log_access(const http::Request& req, const http::Buffer& out, size_t from) {
  int status = 0;
  if (out.size() >= from + 12) {
    const char* s = out.data() + from + 9;
    status = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
  }
  std::string_view xff = req.header("x-forwarded-for");  // the client behind a trusted proxy
  PyObject* r = PyObject_CallFunction(engine->access_log, "(s#i)s#s#siy#", client_host.data(),
                                      Py_ssize_t(client_host.size()), client_port, req.method.data(),
                                      Py_ssize_t(req.method.size()), req.target.data(), Py_ssize_t(req.target.size()),
                                      link->http2              ? "2"
                                      : req.version_minor == 0 ? "1.0"
                                                               : "1.1",
                                      status, xff.data(), Py_ssize_t(xff.size()));
  if (!r) PyErr_WriteUnraisable(engine->access_log);
  Py_XDECREF(r);
}

}  // namespace fasterapi::bridge
