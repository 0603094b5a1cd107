#include "bridge/websocket.hpp"
#include "http/ascii.hpp"

#include "bridge/request_data.hpp"
#include "bridge/boundary.hpp"
#include "http/response.hpp"
#include "http/websocket.hpp"

namespace fasterapi::bridge {
namespace {

namespace ws = http::ws;

struct LinkObject {
  PyObject_HEAD std::shared_ptr<server::ConnLink>* link;
  std::string* accept;  // Sec-WebSocket-Accept value
  uint64_t max_message;
};

using http::iequals;

// "Name: value\r\n" lines from [(name, value), ...]; names in `skip` (framing, the handshake's
// own) are left out. False with a Python error on a bad item or a CR/LF/NUL (response splitting).
bool header_lines(PyObject* headers, std::string& out, std::initializer_list<std::string_view> skip) {
  if (headers == Py_None) return true;
  PyObject* seq = PySequence_Fast(headers, "headers must be a sequence of (name, value)");
  if (!seq) return false;
  bool ok = true;
  for (Py_ssize_t i = 0; ok && i < PySequence_Fast_GET_SIZE(seq); ++i) {
    PyObject* item = PySequence_Fast_GET_ITEM(seq, i);
    std::string_view name, value;
    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
      PyErr_SetString(PyExc_TypeError, "headers items must be (name, value) tuples");
      ok = false;
    } else if (!as_bytes(PyTuple_GET_ITEM(item, 0), name) || !as_bytes(PyTuple_GET_ITEM(item, 1), value)) {
      ok = false;
    } else if (!http::valid_header_name(name) || !http::valid_header_value(value)) {
      PyErr_SetString(PyExc_ValueError, "invalid character in response header name or value");
      ok = false;
    } else {
      bool skipped = false;
      for (auto s : skip) skipped = skipped || iequals(name, s);
      if (!skipped) {
        out.append(name);
        out.append(": ");
        out.append(value);
        out.append("\r\n");
      }
    }
  }
  Py_DECREF(seq);
  return ok;
}

// ---- the handler an upgraded Connection reports to ------------------------------------------

class PyHandler final : public ws::Handler {
 public:
  PyHandler(PyObject* on_message, PyObject* on_close, PyObject* on_writable)
      : on_message_(Py_NewRef(on_message)), on_close_(Py_NewRef(on_close)), on_writable_(Py_NewRef(on_writable)) {}
  ~PyHandler() override {
    Py_DECREF(on_message_);
    Py_DECREF(on_close_);
    Py_DECREF(on_writable_);
  }

  bool on_message(bool text, std::string_view payload) override {
    PyObject* data = text ? PyUnicode_DecodeUTF8(payload.data(), Py_ssize_t(payload.size()), "strict")
                          : PyBytes_FromStringAndSize(payload.data(), Py_ssize_t(payload.size()));
    PyObject* r = data ? PyObject_CallOneArg(on_message_, data) : nullptr;
    Py_XDECREF(data);
    bool pause = false;
    if (!r) {
      PyErr_WriteUnraisable(on_message_);
    } else {
      pause = PyObject_IsTrue(r) == 1;
      Py_DECREF(r);
    }
    return !pause;
  }

  void on_close(uint16_t code, std::string_view reason) override {
    PyObject* r = PyObject_CallFunction(on_close_, "is#", int(code), reason.data(), Py_ssize_t(reason.size()));
    if (!r) PyErr_WriteUnraisable(on_close_);
    Py_XDECREF(r);
  }

  void on_writable() override {
    PyObject* r = PyObject_CallNoArgs(on_writable_);
    if (!r) PyErr_WriteUnraisable(on_writable_);
    Py_XDECREF(r);
  }

 private:
  PyObject* on_message_;
  PyObject* on_close_;
  PyObject* on_writable_;
};

// ---- _core.WebSocketLink ------------------------------------------------------------------------

http::Connection* conn_of(PyObject* self) { return (*reinterpret_cast<LinkObject*>(self)->link)->conn; }

void kick(PyObject* self) {
  auto& link = *reinterpret_cast<LinkObject*>(self)->link;
  if (link->conn && link->kick) link->kick();
}

PyObject* link_gone() {
  PyErr_SetString(PyExc_ConnectionResetError, "the WebSocket connection is closed");
  return nullptr;
}

PyObject* link_accept(PyObject* self, PyObject* args, PyObject* kw) {
  static const char* names[] = {"subprotocol", "headers", "on_message", "on_close", "on_writable", nullptr};
  PyObject *subprotocol, *headers, *on_message, *on_close, *on_writable;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOOO", const_cast<char**>(names), &subprotocol, &headers, &on_message,
                                   &on_close, &on_writable))
    return nullptr;
  auto* o = reinterpret_cast<LinkObject*>(self);
  http::Connection* conn = conn_of(self);
  if (!conn || !conn->can_upgrade()) Py_RETURN_FALSE;
  std::string head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
  head += "Sec-WebSocket-Accept: " + *o->accept + "\r\n";
  if (subprotocol != Py_None) {
    std::string_view sp;
    if (!as_bytes(subprotocol, sp)) return nullptr;
    if (sp.empty() || !http::valid_header_value(sp)) {
      PyErr_SetString(PyExc_ValueError, "invalid subprotocol");
      return nullptr;
    }
    head += "Sec-WebSocket-Protocol: ";
    head += sp;
    head += "\r\n";
  }
  if (!header_lines(headers, head,
                    {"connection", "upgrade", "sec-websocket-accept", "content-length", "transfer-encoding",
                     "sec-websocket-protocol"}))
    return nullptr;
  head += http::date_and_server_headers();
  head += "\r\n";
  conn->output().append(head);
  conn->upgrade(std::make_unique<PyHandler>(on_message, on_close, on_writable), o->max_message);
  kick(self);
  Py_RETURN_TRUE;
}

PyObject* link_reject(PyObject* self, PyObject* args) {
  int status;
  PyObject *headers, *body;
  if (!PyArg_ParseTuple(args, "iOO", &status, &headers, &body)) return nullptr;
  http::Connection* conn = conn_of(self);
  if (!conn || !conn->pending() || conn->upgraded()) Py_RETURN_FALSE;
  std::string_view b;
  if (!as_bytes(body, b)) return nullptr;
  std::string extra;
  if (!header_lines(headers, extra, {"connection", "content-length", "transfer-encoding"})) return nullptr;
  if (status < 100 || status > 599 || status == 101) status = 500;
  if (status >= 400 && b.empty() && extra.empty())
    http::write_error(conn->output(), status, true);  // {"detail": ...}
  else
    http::write_response(conn->output(), status, {}, extra, b, true, false);
  conn->set_draining();  // the connection closes after this response
  conn->complete();
  kick(self);
  Py_RETURN_TRUE;
}

PyObject* link_send(PyObject* self, PyObject* data) {
  http::Connection* conn = conn_of(self);
  if (!conn || !conn->upgraded()) return link_gone();
  std::string_view payload;
  bool text = PyUnicode_Check(data);
  if (!as_bytes(data, payload)) return nullptr;
  if (!conn->ws_send(text, payload)) return link_gone();
  kick(self);
  conn = conn_of(self);
  return PyLong_FromSize_t(conn ? conn->output().size() : 0);
}

PyObject* link_close(PyObject* self, PyObject* args) {
  int code;
  const char* reason;
  Py_ssize_t reason_len;
  if (!PyArg_ParseTuple(args, "is#", &code, &reason, &reason_len)) return nullptr;
  http::Connection* conn = conn_of(self);
  if (!conn || !conn->upgraded()) Py_RETURN_NONE;
  conn->ws_close(uint16_t(code), std::string_view(reason, size_t(reason_len)));
  kick(self);
  Py_RETURN_NONE;
}

PyObject* link_resume_reading(PyObject* self, PyObject*) {
  http::Connection* conn = conn_of(self);
  if (conn && conn->upgraded()) {
    conn->ws_resume_reading();
    kick(self);
  }
  Py_RETURN_NONE;
}

PyObject* link_notify_writable(PyObject* self, PyObject*) {
  http::Connection* conn = conn_of(self);
  if (!conn) return link_gone();
  conn->ws_notify_writable();
  kick(self);
  Py_RETURN_NONE;
}

PyObject* link_open(PyObject* self, void*) { return PyBool_FromLong(conn_of(self) != nullptr); }

void link_dealloc(PyObject* self) {
  auto* o = reinterpret_cast<LinkObject*>(self);
  PyTypeObject* tp = Py_TYPE(self);
  delete o->link;
  delete o->accept;
  tp->tp_free(self);
  Py_DECREF(tp);
}

PyMethodDef link_methods[] = {
    {"accept", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(boundary<link_accept>)),
     METH_VARARGS | METH_KEYWORDS,
     "accept(subprotocol, headers, on_message, on_close, on_writable) -> bool: 101 and the upgrade"},
    {"reject", boundary<link_reject>, METH_VARARGS,
     "reject(status, headers, body) -> bool: an HTTP response, then close"},
    {"send", boundary<link_send>, METH_O, "send(str | bytes) -> bytes still unsent: a text or binary message"},
    {"close", boundary<link_close>, METH_VARARGS, "close(code, reason): our close frame; the connection then closes"},
    {"resume_reading", boundary<link_resume_reading>, METH_NOARGS, "read again after on_message returned True"},
    {"notify_writable", boundary<link_notify_writable>, METH_NOARGS, "call on_writable() once the output is flushed"},
    {nullptr, nullptr, 0, nullptr}};

PyGetSetDef link_getset[] = {{"open", boundary<link_open>, nullptr, "the connection is still there", nullptr},
                             {nullptr, nullptr, nullptr, nullptr, nullptr}};

PyType_Slot link_slots[] = {{Py_tp_dealloc, reinterpret_cast<void*>(boundary<link_dealloc>)},
                            {Py_tp_methods, link_methods},
                            {Py_tp_getset, link_getset},
                            {Py_tp_doc, const_cast<char*>("A WebSocket handshake's connection (made by the engine)")},
                            {0, nullptr}};

}  // namespace

PyType_Spec websocket_link_spec = {"fasterapi._core.WebSocketLink", sizeof(LinkObject), 0, Py_TPFLAGS_DEFAULT,
                                   link_slots};

http::HandleResult handle_websocket(EngineObject* e, const std::shared_ptr<server::ConnLink>& link,
                                    const http::Request& req, std::string_view decoded_path, const std::string& host,
                                    int port, http::Buffer& out) {
  // A refused handshake is answered like every error of the server ({"detail": ...}, Connection:
  // close) and ends the connection.
  auto refuse = [&](int status) {
    http::write_error(out, status, true);
    if (link->conn) link->conn->close_after_response();
    return http::HandleResult::Done;
  };
  std::string_view key;
  int st = ws::check_handshake(req, key);
  if (st == 426) {
    http::write_response(out, 426, "application/json", "Sec-WebSocket-Version: 13\r\n",
                         "{\"detail\":\"Upgrade Required\"}", true, false);
    if (link->conn) link->conn->close_after_response();
    return http::HandleResult::Done;
  }
  if (st || !req.keep_alive)  // (Connection: close with the upgrade, or a shutdown under way: 503)
    return refuse(link->conn && link->conn->draining() ? 503 : 400);
  PyObject* handler = e->websocket_handler;
  if (!handler || handler == Py_None) return refuse(403);  // no websocket routes, as Starlette's router
  PyTypeObject* tp = e->st->websocket_type;
  auto* lo = reinterpret_cast<LinkObject*>(tp->tp_alloc(tp, 0));
  if (!lo) {
    PyErr_WriteUnraisable(handler);
    return refuse(500);
  }
  lo->link = new std::shared_ptr<server::ConnLink>(link);
  lo->accept = new std::string(ws::accept_value(key));
  lo->max_message = e->limits->max_websocket_message;
  PyObject* rd = make_request_data(e->st, req, decoded_path, nullptr, host, port);
  if (rd) set_request_connection(rd, *link);
  PyObject* args[] = {rd, reinterpret_cast<PyObject*>(lo)};
  PyObject* r = rd ? PyObject_Vectorcall(handler, args, 2, nullptr) : nullptr;
  Py_XDECREF(rd);
  Py_DECREF(lo);
  if (!r) {
    PyErr_WriteUnraisable(handler);
    return refuse(500);
  }
  Py_DECREF(r);
  return http::HandleResult::Pending;
}

}  // namespace fasterapi::bridge
