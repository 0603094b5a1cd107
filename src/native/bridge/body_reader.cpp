// _core.BodyReader: how Python reads a streamed request body (bridge/body_reader.hpp).
#include "bridge/body_reader.hpp"
#include "bridge/boundary.hpp"

#include <string>

#include "http/connection.hpp"

namespace fasterapi::bridge {
namespace {

constexpr size_t kHighWater = 256 * 1024;     // received and not taken: the connection stops reading
constexpr size_t kKeepCapacity = 512 * 1024;  // a larger emptied buffer gives its memory back

// What the connection's sink and the Python reader share; touched on the loop thread only.
struct BodyState {
  std::string buf;             // received, not yet taken
  bool ended = false;          // the whole body arrived
  bool aborted = false;        // it never will (see BodySink::on_abort)
  bool paused = false;         // our sink paused the connection (buf at the high-water mark)
  PyObject* waiter = nullptr;  // strong; the reader's (cleared with it, so the sink never outlives it)
};

// Calls the waiter once, cleared first (it may set a new one). The connection may be driven from
// code with a Python exception pending (a handler's): it is kept aside for the call.
void wake(BodyState& s) {
  PyObject* w = s.waiter;
  if (!w) return;
  s.waiter = nullptr;
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  PyObject* r = PyObject_CallNoArgs(w);
  if (!r) PyErr_WriteUnraisable(w);
  Py_XDECREF(r);
  Py_DECREF(w);
  PyErr_Restore(type, value, tb);
}

class ReaderSink final : public http::BodySink {
 public:
  explicit ReaderSink(std::shared_ptr<BodyState> s) : s_(std::move(s)) {}

  bool on_chunk(std::string_view data) override {
    s_->buf.append(data);
    s_->paused = s_->buf.size() >= kHighWater;
    wake(*s_);
    return !s_->paused;  // (after the waiter: it may have taken everything already)
  }
  void on_end() override { finish(false); }
  void on_abort() override { finish(true); }

 private:
  void finish(bool aborted) {
    s_->ended = !aborted;
    s_->aborted = aborted;
    s_->paused = false;  // the connection no longer waits for this sink
    wake(*s_);
  }
  std::shared_ptr<BodyState> s_;
};

struct ReaderObject {
  PyObject_HEAD std::shared_ptr<BodyState>* state;
  std::shared_ptr<server::ConnLink>* link;  // conn becomes nullptr once the connection is gone
};

BodyState& state_of(PyObject* o) { return **reinterpret_cast<ReaderObject*>(o)->state; }

// Our sink had paused the connection: it reads on, and the socket loop watches the socket again
// (not when the pause never took effect: a waiter that took at once, from inside on_chunk).
void resume(ReaderObject* r) {
  const std::shared_ptr<server::ConnLink>& link = *r->link;
  http::Connection* conn = link->conn;
  if (!conn) return;
  bool was_paused = conn->read_paused();
  conn->resume_body();
  if (was_paused && link->conn && link->kick) link->kick();
}

// take() -> bytes: everything received so far (b"" if nothing); resumes reading when paused.
PyObject* reader_take(PyObject* o, PyObject*) {
  BodyState& s = state_of(o);
  PyObject* b = PyBytes_FromStringAndSize(s.buf.data(), Py_ssize_t(s.buf.size()));
  if (!b) return nullptr;
  if (s.buf.capacity() > kKeepCapacity)
    std::string().swap(s.buf);
  else
    s.buf.clear();
  if (s.paused) {
    s.paused = false;
    resume(reinterpret_cast<ReaderObject*>(o));
  }
  return b;
}

PyObject* reader_done(PyObject* o, void*) {
  BodyState& s = state_of(o);
  return PyBool_FromLong(s.ended && s.buf.empty());
}

PyObject* reader_aborted(PyObject* o, void*) { return PyBool_FromLong(state_of(o).aborted); }

PyObject* reader_buffered(PyObject* o, void*) { return PyLong_FromSize_t(state_of(o).buf.size()); }

PyObject* reader_waiter_get(PyObject* o, void*) {
  PyObject* w = state_of(o).waiter;
  return Py_NewRef(w ? w : Py_None);
}

int reader_waiter_set(PyObject* o, PyObject* v, void*) {
  if (v == Py_None) v = nullptr;
  if (v && !PyCallable_Check(v)) {
    PyErr_SetString(PyExc_TypeError, "waiter must be a callable or None");
    return -1;
  }
  Py_XINCREF(v);
  Py_XSETREF(state_of(o).waiter, v);
  return 0;
}

int reader_traverse(PyObject* o, visitproc visit, void* arg) {
  Py_VISIT(Py_TYPE(o));
  auto* r = reinterpret_cast<ReaderObject*>(o);
  if (r->state) Py_VISIT((*r->state)->waiter);
  return 0;
}

int reader_clear(PyObject* o) {
  auto* r = reinterpret_cast<ReaderObject*>(o);
  if (r->state) Py_CLEAR((*r->state)->waiter);
  return 0;
}

void reader_dealloc(PyObject* o) {
  auto* r = reinterpret_cast<ReaderObject*>(o);
  PyTypeObject* tp = Py_TYPE(o);
  PyObject_GC_UnTrack(o);
  reader_clear(o);
  delete r->state;  // (the sink keeps the buffer while the connection holds it)
  delete r->link;
  tp->tp_free(o);
  Py_DECREF(tp);
}

PyMethodDef reader_methods[] = {
    {"take", boundary<reader_take>, METH_NOARGS,
     "take() -> bytes: the body bytes received so far and not yet taken (b'' if none); reading "
     "resumes if it was paused for them"},
    {nullptr, nullptr, 0, nullptr}};

PyGetSetDef reader_getset[] = {
    {"done", boundary<reader_done>, nullptr, "True once the whole body has arrived and all of it has been taken",
     nullptr},
    {"aborted", boundary<reader_aborted>, nullptr,
     "True once the body cannot complete: the client went away or cut it short, it was malformed or "
     "over the body limit, a deadline fired, or the response was finished before it was read",
     nullptr},
    {"buffered", boundary<reader_buffered>, nullptr, "bytes received and not yet taken", nullptr},
    {"waiter", boundary<reader_waiter_get>, boundary<reader_waiter_set>,
     "None or a callable, called once (then cleared) on the loop thread when more bytes arrive, the "
     "body ends or it is aborted",
     nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

PyType_Slot reader_slots[] = {{Py_tp_dealloc, reinterpret_cast<void*>(boundary<reader_dealloc>)},
                              {Py_tp_traverse, reinterpret_cast<void*>(boundary<reader_traverse>)},
                              {Py_tp_clear, reinterpret_cast<void*>(boundary<reader_clear>)},
                              {Py_tp_methods, reader_methods},
                              {Py_tp_getset, reader_getset},
                              {Py_tp_doc, const_cast<char*>("A streamed request body (made by the engine)")},
                              {0, nullptr}};

}  // namespace

PyType_Spec body_reader_spec = {"fasterapi._core.BodyReader", sizeof(ReaderObject), 0,
                                Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC, reader_slots};

PyObject* make_body_reader(ModuleState* st, const std::shared_ptr<server::ConnLink>& link) {
  http::Connection* conn = link->conn;
  if (!conn) {
    PyErr_SetString(PyExc_RuntimeError, "make_body_reader: no connection");
    return nullptr;
  }
  PyTypeObject* tp = st->body_reader_type;
  auto* r = reinterpret_cast<ReaderObject*>(tp->tp_alloc(tp, 0));
  if (!r) return nullptr;
  auto state = std::make_shared<BodyState>();
  r->state = new std::shared_ptr<BodyState>(state);
  r->link = new std::shared_ptr<server::ConnLink>(link);
  conn->attach_body(std::make_shared<ReaderSink>(std::move(state)));
  return reinterpret_cast<PyObject*>(r);
}

}  // namespace fasterapi::bridge
