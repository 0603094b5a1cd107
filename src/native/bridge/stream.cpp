// _core.StreamSink: how a streaming response's Python task writes into its connection.
#include "bridge/stream.hpp"
#include "bridge/boundary.hpp"

#include <charconv>

namespace fasterapi::bridge {
namespace {

struct SinkObject {
  PyObject_HEAD std::shared_ptr<server::ConnLink>* link;
  bool chunked;
  bool head_only;
  bool done;          // closed or aborted: nothing more is written
  int64_t remaining;  // a body framed by the app's Content-Length: bytes still owed (-1: not framed so)
};

http::Connection* live(SinkObject* s) { return s->done ? nullptr : (*s->link)->conn; }

void kick(SinkObject* s) {
  if ((*s->link)->kick) (*s->link)->kick();
}

// The response is over: the connection goes on to the next request (or closes when asked to).
void end(SinkObject* s, http::Connection* conn, bool close) {
  s->done = true;
  if (close) conn->close_after_response();
  conn->complete();
  kick(s);
}

// write(data) -> bool: False once the client is gone (stop producing).
PyObject* sink_write(PyObject* o, PyObject* arg) {
  auto* s = reinterpret_cast<SinkObject*>(o);
  http::Connection* conn = live(s);
  if (!conn) Py_RETURN_FALSE;
  Py_buffer view;
  if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return nullptr;
  size_t n = size_t(view.len);
  if (n > 0 && !s->head_only) {
    http::Buffer& out = conn->output();
    if (s->remaining >= 0) {
      if (n > uint64_t(s->remaining)) {
        // Never past the declared length (the rest would be read as the next response): nothing
        // of this chunk goes out, the connection closes with the body cut short (uvicorn raises).
        PyBuffer_Release(&view);
        end(s, conn, true);
        PyErr_SetString(PyExc_RuntimeError, "Response content longer than Content-Length");
        return nullptr;
      }
      s->remaining -= int64_t(n);
      out.append(static_cast<const char*>(view.buf), n);
    } else if (s->chunked) {
      char size[20];
      auto [p, ec] = std::to_chars(size, size + sizeof size, n, 16);
      (void)ec;
      out.append(size, size_t(p - size));
      out.append("\r\n");
      out.append(static_cast<const char*>(view.buf), n);
      out.append("\r\n");
    } else {
      out.append(static_cast<const char*>(view.buf), n);
    }
    kick(s);
  }
  PyBuffer_Release(&view);
  Py_RETURN_TRUE;
}

// close(): the body is complete (the last chunk on HTTP/1.1).
PyObject* sink_close(PyObject* o, PyObject*) {
  auto* s = reinterpret_cast<SinkObject*>(o);
  if (http::Connection* conn = live(s)) {
    if (conn->body_failure()) {
      // The request's streamed body failed after this response started (a deadline, bad framing,
      // over the limit): the response is cut, never made to look complete.
      end(s, conn, true);
      Py_RETURN_NONE;
    }
    if (s->chunked && !s->head_only) conn->output().append("0\r\n\r\n");
    // A close-delimited body ends with the connection; so does a body short of its Content-Length
    // (the client sees it truncated, never complete).
    bool framed = s->remaining >= 0;
    end(s, conn, !s->head_only && (framed ? s->remaining > 0 : !s->chunked));
  }
  s->done = true;
  Py_RETURN_NONE;
}

// abort(): the body failed midway: close the connection without ending it, so the client sees a
// truncated response, never a complete-looking one.
PyObject* sink_abort(PyObject* o, PyObject*) {
  auto* s = reinterpret_cast<SinkObject*>(o);
  if (http::Connection* conn = live(s)) end(s, conn, true);
  s->done = true;
  Py_RETURN_NONE;
}

// Bytes written and not yet sent (backpressure: the writer waits while this is high).
PyObject* sink_backlog(PyObject* o, void*) {
  http::Connection* conn = live(reinterpret_cast<SinkObject*>(o));
  return PyLong_FromSize_t(conn ? conn->output().size() : 0);
}

PyObject* sink_head_only(PyObject* o, void*) { return PyBool_FromLong(reinterpret_cast<SinkObject*>(o)->head_only); }

PyObject* sink_remaining(PyObject* o, void*) {
  auto* s = reinterpret_cast<SinkObject*>(o);
  return PyLong_FromLongLong(s->head_only ? (s->remaining < 0 ? -1 : 0) : s->remaining);
}

PyObject* sink_closed(PyObject* o, void*) { return PyBool_FromLong(live(reinterpret_cast<SinkObject*>(o)) == nullptr); }

void sink_dealloc(PyObject* o) {
  auto* s = reinterpret_cast<SinkObject*>(o);
  PyTypeObject* tp = Py_TYPE(o);
  if (s->link) {
    if (http::Connection* conn = live(s)) end(s, conn, true);  // dropped unfinished: truncated
    delete s->link;
  }
  tp->tp_free(o);
  Py_DECREF(tp);
}

PyMethodDef sink_methods[] = {
    {"write", boundary<sink_write>, METH_O, "write(data) -> bool: send a chunk; False once the client is gone"},
    {"close", boundary<sink_close>, METH_NOARGS, "close(): the body is complete"},
    {"abort", boundary<sink_abort>, METH_NOARGS, "abort(): close the connection, the body truncated"},
    {nullptr, nullptr, 0, nullptr}};

PyGetSetDef sink_getset[] = {
    {"backlog", boundary<sink_backlog>, nullptr, "bytes written and not yet sent", nullptr},
    {"closed", boundary<sink_closed>, nullptr, "True once closed, aborted or the client went away", nullptr},
    {"remaining", boundary<sink_remaining>, nullptr,
     "bytes the declared Content-Length still owes (-1: no declared length; 0 on a head-only sink)", nullptr},
    {"head_only", boundary<sink_head_only>, nullptr, "the response has no body (HEAD, 204, 304): close() at once",
     nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

PyType_Slot sink_slots[] = {{Py_tp_dealloc, reinterpret_cast<void*>(boundary<sink_dealloc>)},
                            {Py_tp_methods, sink_methods},
                            {Py_tp_getset, sink_getset},
                            {Py_tp_doc, const_cast<char*>("A streaming response's connection (made by the engine)")},
                            {0, nullptr}};

}  // namespace

PyType_Spec stream_sink_spec = {"fasterapi._core.StreamSink", sizeof(SinkObject), 0, Py_TPFLAGS_DEFAULT, sink_slots};

void stream_sink_detach(PyObject* sink) { reinterpret_cast<SinkObject*>(sink)->done = true; }

PyObject* make_stream_sink(EngineObject* e, const std::shared_ptr<server::ConnLink>& link, bool chunked, bool head_only,
                           int64_t content_length) {
  PyTypeObject* tp = e->st->stream_type;
  auto* s = reinterpret_cast<SinkObject*>(tp->tp_alloc(tp, 0));
  if (!s) return nullptr;
  s->link = new std::shared_ptr<server::ConnLink>(link);
  s->chunked = chunked;
  s->head_only = head_only;
  s->done = false;
  s->remaining = content_length;
  return reinterpret_cast<PyObject*>(s);
}

}  // namespace fasterapi::bridge
