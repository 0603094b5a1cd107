// The native blocking pool and the micro-batch collectors (see offload.hpp).
#include "bridge/offload.hpp"
#include "http/fields.hpp"
#include "bridge/pypy_compat.hpp"
#include "bridge/boundary.hpp"

#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <memory>
#include <vector>

#include "server/loop.hpp"
#include "server/pool.hpp"

namespace fasterapi::bridge {
namespace {

uint64_t mono_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

struct Batcher;

struct BatchItem {
  Deferred* d;
  PyObject* item;  // owned until the batch starts
  uint64_t enq_ns;
};

// One batch in flight.
struct Run {
  EngineObject* e;  // strong
  Batcher* b;
  std::vector<BatchItem> items;  // d == nullptr once answered (timeout) or dropped
  uint64_t start_ns = 0;
  bool done = false;
};

struct Stats {
  uint64_t batches = 0, items = 0, dropped = 0, timeouts = 0, errors = 0, invalid = 0;
  uint64_t wait_ns_sum = 0, run_ns_sum = 0, wait_ns_max = 0, run_ns_max = 0;
  std::vector<uint64_t> sizes;              // histogram: sizes[n] batches of n items
  std::vector<uint32_t> waits_us, runs_us;  // recent samples (bounded rings) for percentiles
  size_t waits_pos = 0, runs_pos = 0;
  static constexpr size_t kSamples = 65536;
  static void sample(std::vector<uint32_t>& v, size_t& pos, uint64_t ns) {
    uint32_t us = uint32_t(std::min<uint64_t>(ns / 1000, UINT32_MAX));
    if (v.size() < kSamples)
      v.push_back(us);
    else {
      v[pos] = us;
      pos = (pos + 1) % kSamples;
    }
  }
};

struct Batcher {
  int route = -1;
  PyObject* endpoint = nullptr;       // handler(list of items) -> list of results
  PyObject* validate = nullptr;       // bytes -> item (raises when invalid)
  PyObject* item_response = nullptr;  // None, or raw result -> Response (response_model)
  bool is_async = false;
  size_t max_size = 32;
  uint64_t max_wait_ns = 5000000;
  uint64_t timeout_ns = 0;  // 0: none
  int concurrency = 1;
  int status = 200;
  int in_flight = 0;
  std::deque<BatchItem> queue;
  std::vector<Run*> running;
  Stats stats;
};

struct Job {
  enum Kind : uint8_t { Blocking, Call, Then, Batch } kind;
  Offload* owner;
  PyObject* fn = nullptr;
  std::vector<PyObject*> args;
  PyObject* kwnames = nullptr;
  PyObject* result = nullptr;
  PyObject *etype = nullptr, *evalue = nullptr, *etb = nullptr;
  Deferred* d = nullptr;      // Blocking
  PyObject* done = nullptr;   // Call: done(result, exc); Then: then(result, exc) -> the answer
  EngineObject* e = nullptr;  // Call: strong (keeps the engine and its pool alive)
  Run* run = nullptr;         // Batch
};

}  // namespace

struct Offload {
  EngineObject* e;  // borrowed: the owner
  PyInterpreterState* interp = nullptr;
  int threads = 40;
  std::unique_ptr<server::WorkerPool> pool;
  std::vector<PyThreadState*> tstates;
  int hub = -1;  // epoll {pool eventfd, timerfd}
  int tfd = -1;
  int servers = 0;
  uint64_t timer_at = 0;  // armed deadline (0: none)
  std::vector<RouteKind> kinds;
  std::vector<std::unique_ptr<Batcher>> batchers;
  uint64_t blocking_jobs = 0;
  PyTypeObject* marker = nullptr;  // fasterapi._runtime.Offload (strong)
};

namespace {

Offload* get(EngineObject* e) {
  if (e->offload) return e->offload;
  auto* o = new Offload();
  o->e = e;
#ifdef PYPY_VERSION
  o->interp = PyInterpreterState_Head();  // PyPy has one interpreter (and no PyInterpreterState_Get)
#else
  o->interp = PyInterpreterState_Get();
#endif
  o->hub = epoll_create1(EPOLL_CLOEXEC);
  o->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (o->hub < 0 || o->tfd < 0) {
    PyErr_SetFromErrno(PyExc_OSError);
    if (o->hub >= 0) ::close(o->hub);
    if (o->tfd >= 0) ::close(o->tfd);
    delete o;
    return nullptr;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = o->tfd;
  epoll_ctl(o->hub, EPOLL_CTL_ADD, o->tfd, &ev);
  PyObject* rt = PyImport_ImportModule("fasterapi._runtime");
  PyObject* m = rt ? PyObject_GetAttrString(rt, "Offload") : nullptr;
  Py_XDECREF(rt);
  if (m && PyType_Check(m)) {
    o->marker = reinterpret_cast<PyTypeObject*>(m);
  } else {  // (no marker type: handlers cannot return one)
    Py_XDECREF(m);
    PyErr_Clear();
  }
  e->offload = o;
  return o;
}

void run_job(void* arg, int worker);

server::WorkerPool* pool_of(Offload* o) {
  if (o->pool) return o->pool.get();
  int n = o->threads < 1 ? 1 : o->threads;
  o->tstates.assign(size_t(n), nullptr);
  PyInterpreterState* interp = o->interp;
  std::vector<PyThreadState*>* ts = &o->tstates;
  server::WorkerPool::Hooks hooks;
  // Each worker gets its own thread state in the engine's interpreter (sub-interpreters included);
  // it takes the GIL with it only around a handler call.
#ifdef PYPY_VERSION
  // cpyext: a worker thread's state is the one PyGILState_Ensure makes on that thread (using the
  // state of PyThreadState_New crashes PyPy); released at once, then taken as on CPython.
  (void)interp;
  hooks.on_start = [ts](int i) {
    PyGILState_Ensure();
    (*ts)[size_t(i)] = PyEval_SaveThread();
  };
#else
  hooks.on_start = [interp, ts](int i) { (*ts)[size_t(i)] = PyThreadState_New(interp); };
#endif
  // The GIL is taken once for a run of consecutive jobs (the eval loop still hands it over to a
  // waiting thread every switch interval), not once per job.
  hooks.enter = [ts](int i) { PyEval_RestoreThread((*ts)[size_t(i)]); };
  hooks.leave = [](int) { PyEval_SaveThread(); };
  hooks.max_run = 8;
  try {
    o->pool = std::make_unique<server::WorkerPool>(n, 1024, std::move(hooks));
  } catch (const std::exception& ex) {
    PyErr_SetString(PyExc_OSError, ex.what());
    return nullptr;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = o->pool->fd();
  epoll_ctl(o->hub, EPOLL_CTL_ADD, o->pool->fd(), &ev);
  return o->pool.get();
}

// In-memory connections have no Server watching the hub: the running asyncio loop does.
bool ensure_watched(Offload* o) {
  if (o->servers > 0) return true;
  PyObject* rt = PyImport_ImportModule("fasterapi._runtime");
  if (!rt) return false;
  PyObject* r = PyObject_CallMethod(rt, "watch_hub", "iO", o->hub, reinterpret_cast<PyObject*>(o->e));
  Py_DECREF(rt);
  Py_XDECREF(r);
  return r != nullptr;
}

void arm(Offload* o, uint64_t at) {
  if (o->timer_at != 0 && o->timer_at <= at) return;
  o->timer_at = at;
  itimerspec its{};
  if (at == 0) at = 1;
  its.it_value.tv_sec = time_t(at / 1000000000ull);
  its.it_value.tv_nsec = long(at % 1000000000ull);
  timerfd_settime(o->tfd, TFD_TIMER_ABSTIME, &its, nullptr);
}

void disarm(Offload* o) {
  o->timer_at = 0;
  itimerspec its{};
  timerfd_settime(o->tfd, TFD_TIMER_ABSTIME, &its, nullptr);
}

void submit(Offload* o, Job* j) {
  server::Task t;
  t.run = run_job;
  t.arg = j;
  o->pool->submit(t);
}

// ---- worker side ------------------------------------------------------------------------------

void run_job(void* arg, int worker) {
  Job* j = static_cast<Job*>(arg);
  (void)worker;  // (the worker holds the GIL: WorkerPool::Hooks::enter)
  switch (j->kind) {
    case Job::Blocking:
      j->result = PyObject_Vectorcall(
          j->fn, j->args.data(), j->args.size() - size_t(j->kwnames ? PyTuple_GET_SIZE(j->kwnames) : 0), j->kwnames);
      break;
    case Job::Call:
    case Job::Then: j->result = PyObject_CallNoArgs(j->fn); break;
    case Job::Batch: j->result = PyObject_CallOneArg(j->fn, j->args[0]); break;
  }
  if (!j->result) {
    PyErr_Fetch(&j->etype, &j->evalue, &j->etb);
    PyErr_NormalizeException(&j->etype, &j->evalue, &j->etb);
    if (j->etb) PyException_SetTraceback(j->evalue, j->etb);
  }
  for (PyObject* a : j->args) Py_DECREF(a);
  j->args.clear();
}

// ---- batches ----------------------------------------------------------------------------------

void service(Offload* o, Batcher& b, uint64_t now);
void reschedule(Offload* o);

PyObject* err_503() { return Py_BuildValue("{ss}", "detail", "Service Unavailable"); }

void answer_timeout(Batcher& b, Deferred* d) {
  ++b.stats.timeouts;
  PyObject* body = err_503();
  if (!body) {
    PyErr_WriteUnraisable(nullptr);
    deferred_free(d);
    return;
  }
  deferred_finish(d, body, 503);
}

void batch_done(Run* run, PyObject* result) {
  // result: new reference, or nullptr with the exception set.
  Batcher& b = *run->b;
  EngineObject* e = run->e;
  run->done = true;
  --b.in_flight;
  b.running.erase(std::remove(b.running.begin(), b.running.end(), run), b.running.end());
  uint64_t ran = mono_ns() - run->start_ns;
  b.stats.run_ns_sum += ran;
  b.stats.run_ns_max = std::max(b.stats.run_ns_max, ran);
  Stats::sample(b.stats.runs_us, b.stats.runs_pos, ran);
  size_t n = run->items.size();
  PyObject* seq = nullptr;
  if (result) {
    seq = PySequence_Fast(result, "a batch handler must return a list with one result per input");
    Py_DECREF(result);
    if (seq && size_t(PySequence_Fast_GET_SIZE(seq)) != n) {
      PyErr_Format(PyExc_ValueError, "the batch handler returned %zd results for %zu inputs",
                   PySequence_Fast_GET_SIZE(seq), n);
      Py_CLEAR(seq);
    }
  }
  if (!seq) {
    // Every request of the batch gets the error's answer (HTTPException: its status and detail).
    ++b.stats.errors;
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, "the batch failed");
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    PyErr_NormalizeException(&t, &v, &tb);
    for (auto& it : run->items) {
      if (!it.d) continue;
      Py_XINCREF(t);
      Py_XINCREF(v);
      Py_XINCREF(tb);
      PyErr_Restore(t, v, tb);
      deferred_finish(it.d, nullptr);
      it.d = nullptr;
    }
    Py_XDECREF(t);
    Py_XDECREF(v);
    Py_XDECREF(tb);
  } else {
    for (size_t i = 0; i < n; ++i) {
      Deferred* d = run->items[i].d;
      if (!d) continue;
      run->items[i].d = nullptr;
      PyObject* value = Py_NewRef(PySequence_Fast_GET_ITEM(seq, Py_ssize_t(i)));
      if (b.item_response && b.item_response != Py_None) {
        PyObject* r = PyObject_CallOneArg(b.item_response, value);
        Py_DECREF(value);
        value = r;  // nullptr: this request's error answer
      }
      deferred_finish(d, value, b.status);
    }
    Py_DECREF(seq);
  }
  delete run;
  Offload* o = e->offload;
  if (o) {
    service(o, b, mono_ns());
    reschedule(o);
  }
  Py_DECREF(e);
}

// done(task) for an async batch handler that really awaited.
int spent_marker;
void* const kSpent = &spent_marker;
PyObject* batch_task_done(PyObject* capsule, PyObject* task) {
  void* p = PyCapsule_GetPointer(capsule, "fasterapi.batch");
  if (!p || p == kSpent) Py_RETURN_NONE;
  Run* run = static_cast<Run*>(p);
  PyCapsule_SetPointer(capsule, kSpent);
  PyObject* res = PyObject_CallMethod(task, "result", nullptr);
  batch_done(run, res);
  if (PyErr_Occurred()) PyErr_WriteUnraisable(nullptr);
  Py_RETURN_NONE;
}
PyMethodDef batch_task_done_def = {"batch_done", boundary<batch_task_done>, METH_O, nullptr};

void run_async_batch(Run* run, PyObject* list) {
  Batcher& b = *run->b;
  PyObject* coro = PyObject_CallOneArg(b.endpoint, list);
  Py_DECREF(list);
  if (!coro || !PyCoro_CheckExact(coro)) {
    batch_done(run, coro);
    return;
  }
  PyObject* yielded = nullptr;
  PySendResult r = PyIter_Send(coro, Py_None, &yielded);
  if (r == PYGEN_RETURN) {
    Py_DECREF(coro);
    batch_done(run, yielded);
    return;
  }
  if (r == PYGEN_ERROR) {
    Py_DECREF(coro);
    batch_done(run, nullptr);
    return;
  }
  // It awaits: finish as an asyncio task (fasterapi._runtime.resume), then batch_task_done.
  PyObject* cap = PyCapsule_New(run, "fasterapi.batch", nullptr);
  PyObject* done = cap ? PyCFunction_New(&batch_task_done_def, cap) : nullptr;
  Py_XDECREF(cap);
  PyObject* ok = nullptr;
  if (done) {
    PyObject* args[] = {coro, yielded, done};
    ok = PyObject_Vectorcall(run->e->resume, args, 3, nullptr);
  }
  Py_DECREF(coro);
  Py_XDECREF(yielded);
  Py_XDECREF(done);
  if (!ok) {
    batch_done(run, nullptr);
    return;
  }
  Py_DECREF(ok);
}

void start(Offload* o, Batcher& b, std::vector<BatchItem>&& items, uint64_t now) {
  auto* run = new Run{o->e, &b, std::move(items), now};
  Py_INCREF(o->e);
  ++b.in_flight;
  b.running.push_back(run);
  size_t n = run->items.size();
  ++b.stats.batches;
  b.stats.items += n;
  if (b.stats.sizes.size() <= n) b.stats.sizes.resize(n + 1, 0);
  ++b.stats.sizes[n];
  PyObject* list = PyList_New(Py_ssize_t(n));
  for (size_t i = 0; i < n; ++i) {
    BatchItem& it = run->items[i];
    uint64_t waited = now - it.enq_ns;
    b.stats.wait_ns_sum += waited;
    b.stats.wait_ns_max = std::max(b.stats.wait_ns_max, waited);
    Stats::sample(b.stats.waits_us, b.stats.waits_pos, waited);
    if (list)
      PyList_SET_ITEM(list, Py_ssize_t(i), it.item);
    else
      Py_DECREF(it.item);
    it.item = nullptr;
  }
  if (!list) {
    batch_done(run, nullptr);
    return;
  }
  if (b.is_async) {
    run_async_batch(run, list);
    return;
  }
  server::WorkerPool* pool = pool_of(o);
  if (!pool) {
    Py_DECREF(list);
    batch_done(run, nullptr);
    return;
  }
  auto* j = new Job{Job::Batch, o};
  j->fn = Py_NewRef(b.endpoint);
  j->args.push_back(list);
  j->run = run;
  submit(o, j);
}

void service(Offload* o, Batcher& b, uint64_t now) {
  if (b.timeout_ns) {
    // Requests that waited too long get 503 (queued: removed; in a running batch: answered now,
    // their result is dropped when it comes).
    while (!b.queue.empty() && now - b.queue.front().enq_ns >= b.timeout_ns) {
      BatchItem it = b.queue.front();
      b.queue.pop_front();
      Py_DECREF(it.item);
      answer_timeout(b, it.d);
    }
    for (size_t k = 0; k < b.running.size(); ++k)
      for (auto& it : b.running[k]->items)
        if (it.d && now - it.enq_ns >= b.timeout_ns) {
          Deferred* d = it.d;
          it.d = nullptr;
          answer_timeout(b, d);
        }
  }
  while (b.in_flight < b.concurrency && !b.queue.empty()) {
    bool full = b.queue.size() >= b.max_size;
    bool due = now - b.queue.front().enq_ns >= b.max_wait_ns;
    if (!full && !due) break;
    std::vector<BatchItem> items;
    items.reserve(std::min(b.max_size, b.queue.size()));
    while (!b.queue.empty() && items.size() < b.max_size) {
      BatchItem it = b.queue.front();
      b.queue.pop_front();
      if (!deferred_alive(it.d)) {  // the client went away: do not compute its answer
        ++b.stats.dropped;
        Py_DECREF(it.item);
        deferred_free(it.d);
        continue;
      }
      items.push_back(it);
    }
    if (!items.empty()) start(o, b, std::move(items), now);
  }
}

// The next moment a batcher needs the loop: the oldest queued request's flush (when a batch can
// start) or any request's timeout.
void reschedule(Offload* o) {
  uint64_t at = 0;
  auto consider = [&](uint64_t t) {
    if (at == 0 || t < at) at = t;
  };
  for (auto& bp : o->batchers) {
    if (!bp) continue;
    Batcher& b = *bp;
    if (!b.queue.empty()) {
      if (b.in_flight < b.concurrency) consider(b.queue.front().enq_ns + b.max_wait_ns);
      if (b.timeout_ns) consider(b.queue.front().enq_ns + b.timeout_ns);
    }
    if (b.timeout_ns)
      for (Run* r : b.running)
        for (auto& it : r->items)
          if (it.d) {
            consider(it.enq_ns + b.timeout_ns);
            break;
          }
  }
  if (at == 0)
    disarm(o);
  else {
    o->timer_at = 0;
    arm(o, at);
  }
}

// done(result, None) or done(None, exception) for a finished job (its result or exception consumed).
static PyObject* call_done(Job* j) {
  if (j->result) {
    PyObject* r = PyObject_CallFunctionObjArgs(j->done, j->result, Py_None, nullptr);
    Py_DECREF(j->result);
    return r;
  }
  PyObject *t, *v, *tb;
  PyErr_Fetch(&t, &v, &tb);
  PyObject* r = PyObject_CallFunctionObjArgs(j->done, Py_None, v ? v : Py_None, nullptr);
  Py_XDECREF(t);
  Py_XDECREF(v);
  Py_XDECREF(tb);
  return r;
}

// ---- the loop side: results and timers --------------------------------------------------------

void job_done(Offload* o, void* arg) {
  Job* j = static_cast<Job*>(arg);
  Py_XDECREF(j->fn);
  Py_XDECREF(j->kwnames);
  if (!j->result) PyErr_Restore(j->etype, j->evalue, j->etb);
  switch (j->kind) {
    case Job::Blocking: deferred_finish(j->d, j->result); break;
    case Job::Call: {
      PyObject* r = call_done(j);
      if (!r) PyErr_WriteUnraisable(j->done);
      Py_XDECREF(r);
      Py_DECREF(j->done);
      Py_DECREF(j->e);
      break;
    }
    case Job::Then: {
      PyObject* r = call_done(j);
      Py_DECREF(j->done);
      deferred_finish(j->d, r);  // (r == nullptr: the exception is answered by the error handler)
      break;
    }
    case Job::Batch: batch_done(j->run, j->result); break;
  }
  if (PyErr_Occurred()) PyErr_WriteUnraisable(nullptr);
  (void)o;
  delete j;
}

void drain(EngineObject* e) {
  Offload* o = e->offload;
  if (!o) return;
  Py_INCREF(e);  // a finished request may hold the last reference
  if (o->pool) o->pool->drain([o](void* a) { job_done(o, a); });
  uint64_t expirations;
  if (::read(o->tfd, &expirations, sizeof expirations) > 0) o->timer_at = 0;
  if (e->offload) {
    uint64_t now = mono_ns();
    for (size_t i = 0; i < o->batchers.size(); ++i)
      if (o->batchers[i]) service(o, *o->batchers[i], now);
    reschedule(o);
  }
  Py_DECREF(e);
}

// ---- Python-facing methods --------------------------------------------------------------------

EngineObject* as_engine(PyObject* self) { return reinterpret_cast<EngineObject*>(self); }

bool check_route(EngineObject* e, int route) {
  if (route < 0 || size_t(route) >= e->routes->size()) {
    PyErr_SetString(PyExc_IndexError, "no such route");
    return false;
  }
  return true;
}

void ensure_route_slots(Offload* o, int route) {
  if (o->kinds.size() <= size_t(route)) {
    o->kinds.resize(size_t(route) + 1, RouteKind::Plain);
    o->batchers.resize(size_t(route) + 1);
  }
}

// set_blocking(route_index): the route's fast plan runs its endpoint on the native pool.
PyObject* m_set_blocking(PyObject* self, PyObject* arg) {
  EngineObject* e = as_engine(self);
  int route = int(PyLong_AsLong(arg));
  if (route == -1 && PyErr_Occurred()) return nullptr;
  if (!check_route(e, route)) return nullptr;
  if (!(*e->routes)[size_t(route)].has_plan) {
    PyErr_SetString(PyExc_ValueError, "set_blocking needs a route registered with a fast plan");
    return nullptr;
  }
  Offload* o = get(e);
  if (!o) return nullptr;
  ensure_route_slots(o, route);
  o->kinds[size_t(route)] = RouteKind::Blocking;
  Py_RETURN_NONE;
}

// set_batch(route_index, endpoint, is_async, validate, max_size, max_wait_ms, concurrency=1,
//           timeout_ms=0, status=200, item_response=None)
PyObject* m_set_batch(PyObject* self, PyObject* args, PyObject* kw) {
  static const char* names[] = {"route",       "endpoint",   "is_async", "validate",      "max_size", "max_wait_ms",
                                "concurrency", "timeout_ms", "status",   "item_response", nullptr};
  EngineObject* e = as_engine(self);
  int route, is_async, max_size, concurrency = 1, status = 200;
  double max_wait_ms, timeout_ms = 0;
  PyObject *endpoint, *validate, *item_response = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "iOpOid|idiO", const_cast<char**>(names), &route, &endpoint, &is_async,
                                   &validate, &max_size, &max_wait_ms, &concurrency, &timeout_ms, &status,
                                   &item_response))
    return nullptr;
  if (!check_route(e, route)) return nullptr;
  if (max_size < 1 || max_wait_ms < 0 || concurrency < 1 || timeout_ms < 0) {
    PyErr_SetString(PyExc_ValueError, "max_size and concurrency must be >= 1; max_wait_ms, timeout_ms >= 0");
    return nullptr;
  }
  Offload* o = get(e);
  if (!o) return nullptr;
  ensure_route_slots(o, route);
  auto b = std::make_unique<Batcher>();
  b->route = route;
  b->endpoint = Py_NewRef(endpoint);
  b->validate = Py_NewRef(validate);
  b->item_response = Py_NewRef(item_response);
  b->is_async = is_async;
  b->max_size = size_t(max_size);
  b->max_wait_ns = uint64_t(max_wait_ms * 1e6);
  b->timeout_ns = uint64_t(timeout_ms * 1e6);
  b->concurrency = concurrency;
  b->status = status;
  if (o->batchers[size_t(route)]) {
    PyErr_SetString(PyExc_ValueError, "the route is already a batch route");
    Py_DECREF(b->endpoint);
    Py_DECREF(b->validate);
    Py_DECREF(b->item_response);
    return nullptr;
  }
  o->batchers[size_t(route)] = std::move(b);
  o->kinds[size_t(route)] = RouteKind::Batch;
  Py_RETURN_NONE;
}

double pct(std::vector<uint32_t> v, double q) {
  if (v.empty()) return 0;
  size_t k = size_t(q * double(v.size() - 1) + 0.5);
  std::nth_element(v.begin(), v.begin() + long(k), v.end());
  return v[k] / 1000.0;
}

// batch_stats(route_index) -> dict
PyObject* m_batch_stats(PyObject* self, PyObject* arg) {
  EngineObject* e = as_engine(self);
  int route = int(PyLong_AsLong(arg));
  if (route == -1 && PyErr_Occurred()) return nullptr;
  Offload* o = e->offload;
  if (!o || route < 0 || size_t(route) >= o->batchers.size() || !o->batchers[size_t(route)]) {
    PyErr_SetString(PyExc_ValueError, "not a batch route");
    return nullptr;
  }
  Batcher& b = *o->batchers[size_t(route)];
  const Stats& s = b.stats;
  PyObject* sizes = PyDict_New();
  if (!sizes) return nullptr;
  for (size_t n = 0; n < s.sizes.size(); ++n)
    if (s.sizes[n]) {
      PyObject* k = PyLong_FromSize_t(n);
      PyObject* v = PyLong_FromUnsignedLongLong(s.sizes[n]);
      if (!k || !v || PyDict_SetItem(sizes, k, v) < 0) {
        Py_XDECREF(k);
        Py_XDECREF(v);
        Py_DECREF(sizes);
        return nullptr;
      }
      Py_DECREF(k);
      Py_DECREF(v);
    }
  double mean_size = s.batches ? double(s.items) / double(s.batches) : 0;
  double wait_mean = s.items ? double(s.wait_ns_sum) / double(s.items) / 1e6 : 0;
  double run_mean = s.batches ? double(s.run_ns_sum) / double(s.batches) / 1e6 : 0;
  return Py_BuildValue("{sKsKsdsNsKsKsKsKsisns{sdsdsdsd}s{sdsdsdsd}sisd}", "batches", (unsigned long long)s.batches,
                       "items", (unsigned long long)s.items, "mean_size", mean_size, "sizes", sizes, "dropped",
                       (unsigned long long)s.dropped, "timeouts", (unsigned long long)s.timeouts, "errors",
                       (unsigned long long)s.errors, "invalid", (unsigned long long)s.invalid, "in_flight", b.in_flight,
                       "queued", Py_ssize_t(b.queue.size()), "wait_ms", "mean", wait_mean, "p50", pct(s.waits_us, 0.5),
                       "p99", pct(s.waits_us, 0.99), "max", s.wait_ns_max / 1e6, "run_ms", "mean", run_mean, "p50",
                       pct(s.runs_us, 0.5), "p99", pct(s.runs_us, 0.99), "max", s.run_ns_max / 1e6, "max_size",
                       int(b.max_size), "max_wait_ms", b.max_wait_ns / 1e6);
}

// offload(call, done): call() runs on the native pool; done(result, exc) then runs on the loop.
PyObject* m_offload(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 2) {
    PyErr_SetString(PyExc_TypeError, "offload(call, done)");
    return nullptr;
  }
  EngineObject* e = as_engine(self);
  Offload* o = get(e);
  if (!o || !pool_of(o) || !ensure_watched(o)) return nullptr;
  auto* j = new Job{Job::Call, o};
  j->fn = Py_NewRef(args[0]);
  j->done = Py_NewRef(args[1]);
  j->e = reinterpret_cast<EngineObject*>(Py_NewRef(self));
  submit(o, j);
  Py_RETURN_NONE;
}

PyObject* m_drain(PyObject* self, PyObject*) {
  drain(as_engine(self));
  if (PyErr_Occurred()) return nullptr;
  Py_RETURN_NONE;
}

PyObject* g_hub_fd(PyObject* self, void*) {
  Offload* o = get(as_engine(self));
  return o ? PyLong_FromLong(o->hub) : nullptr;
}

PyObject* g_threads(PyObject* self, void*) {
  Offload* o = get(as_engine(self));
  return o ? PyLong_FromLong(o->threads) : nullptr;
}
int s_threads(PyObject* self, PyObject* v, void*) {
  Offload* o = get(as_engine(self));
  if (!o) return -1;
  long n = v ? PyLong_AsLong(v) : -1;
  if (n == -1 && PyErr_Occurred()) return -1;
  if (n < 1 || n > 1024) {
    PyErr_SetString(PyExc_ValueError, "blocking_threads must be in 1..1024");
    return -1;
  }
  if (o->pool) {
    PyErr_SetString(PyExc_RuntimeError, "the blocking pool is already running");
    return -1;
  }
  o->threads = int(n);
  return 0;
}

PyObject* g_pool_stats(PyObject* self, void*) {
  Offload* o = get(as_engine(self));
  if (!o) return nullptr;
  return Py_BuildValue("{sisKsK}", "threads", o->pool ? o->pool->threads() : 0, "outstanding",
                       (unsigned long long)(o->pool ? o->pool->outstanding() : 0), "blocking_jobs",
                       (unsigned long long)o->blocking_jobs);
}

PyMethodDef methods[] = {
    {"set_blocking", boundary<m_set_blocking>, METH_O,
     "set_blocking(route_index): run the route's fast plan on the pool"},
    {"set_batch", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(boundary<m_set_batch>)),
     METH_VARARGS | METH_KEYWORDS,
     "set_batch(route, endpoint, is_async, validate, max_size, max_wait_ms, concurrency=1, timeout_ms=0, "
     "status=200, item_response=None)"},
    {"batch_stats", boundary<m_batch_stats>, METH_O, "batch_stats(route_index) -> dict of batch sizes and waits"},
    {"offload", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(boundary<m_offload>)), METH_FASTCALL,
     "offload(call, done): call() on the native pool, then done(result, exc) on the loop"},
    {"_drain", boundary<m_drain>, METH_NOARGS, "handle finished pool work and due batch timers (the hub is readable)"},
    {nullptr, nullptr, 0, nullptr}};

PyGetSetDef getset[] = {{"hub_fd", boundary<g_hub_fd>, nullptr,
                         "epoll fd: readable when pool results or batch timers wait for _drain()", nullptr},
                        {"blocking_threads", boundary<g_threads>, boundary<s_threads>,
                         "native pool size (set before the first blocking call)", nullptr},
                        {"pool_stats", boundary<g_pool_stats>, nullptr, "threads, outstanding, blocking_jobs", nullptr},
                        {nullptr, nullptr, nullptr, nullptr, nullptr}};

// A batch item's body: JSON, or no Content-Type at all (the batch's validator parses it as JSON).
bool json_media(std::string_view ct) { return http::media_kind(ct) != http::MediaKind::Other; }

}  // namespace

// ---- engine-facing API ----------------------------------------------------------------------------

RouteKind offload_kind(EngineObject* e, int route) {
  Offload* o = e->offload;
  if (!o || route < 0 || size_t(route) >= o->kinds.size()) return RouteKind::Plain;
  return o->kinds[size_t(route)];
}

bool offload_ready(EngineObject* e, bool need_pool) {
  Offload* o = get(e);
  if (o && (!need_pool || pool_of(o)) && ensure_watched(o)) return true;
  PyErr_WriteUnraisable(reinterpret_cast<PyObject*>(e));
  return false;
}

http::HandleResult offload_blocking(EngineObject* e, PyObject* endpoint, PyObject** args, size_t n, PyObject* kwnames,
                                    Deferred* d) {
  Offload* o = e->offload;
  auto* j = new Job{Job::Blocking, o};
  j->fn = Py_NewRef(endpoint);
  j->args.assign(args, args + n);
  j->kwnames = Py_XNewRef(kwnames);
  j->d = d;
  ++o->blocking_jobs;
  submit(o, j);
  return http::HandleResult::Pending;
}

bool offload_is_marker(EngineObject* e, PyObject* obj) {
  Offload* o = e->offload;
  return o && o->marker && Py_TYPE(obj) == o->marker;
}

void offload_then(EngineObject* e, PyObject* marker, Deferred* d) {
  Offload* o = e->offload;
  auto* j = new Job{Job::Then, o};
  j->fn = PyObject_GetAttrString(marker, "call");
  j->done = j->fn ? PyObject_GetAttrString(marker, "then") : nullptr;
  Py_DECREF(marker);
  j->d = d;
  if (!j->done) {
    Py_XDECREF(j->fn);
    delete j;
    deferred_finish(d, nullptr);
    return;
  }
  ++o->blocking_jobs;
  submit(o, j);
}

PyObject* batch_validate(EngineObject* e, int route, const http::Request& req) {
  Offload* o = e->offload;
  Batcher& b = *o->batchers[size_t(route)];
  if (req.body.empty() || !json_media(req.content_type)) return nullptr;
  PyObject* raw = PyBytes_FromStringAndSize(req.body.data(), Py_ssize_t(req.body.size()));
  PyObject* item = raw ? PyObject_CallOneArg(b.validate, raw) : nullptr;
  Py_XDECREF(raw);
  if (!item) {
    PyErr_Clear();
    ++b.stats.invalid;
  }
  return item;
}

http::HandleResult batch_enqueue(EngineObject* e, int route, PyObject* item, Deferred* d) {
  Offload* o = e->offload;
  Batcher& b = *o->batchers[size_t(route)];
  uint64_t now = mono_ns();
  b.queue.push_back(BatchItem{d, item, now});
  // Never start a batch from inside a connection's handle(): the hub's timer does it, at once
  // when a batch is full (or can start), else when the oldest request has waited max_wait_ms.
  if (b.in_flight < b.concurrency && (b.queue.size() >= b.max_size || b.max_wait_ns == 0))
    arm(o, now);
  else if (b.queue.size() == 1) {
    if (b.in_flight < b.concurrency) arm(o, now + b.max_wait_ns);
    if (b.timeout_ns) arm(o, now + b.timeout_ns);
  }
  return http::HandleResult::Pending;
}

void offload_attach(EngineObject* e, server::Server* s) {
  Offload* o = get(e);
  if (!o) {
    PyErr_WriteUnraisable(nullptr);
    return;
  }
  s->watch(o->hub, [e] {
    drain(e);
    if (PyErr_Occurred()) PyErr_WriteUnraisable(nullptr);
  });
  ++o->servers;
}

void offload_detach(EngineObject* e, server::Server* s) {
  Offload* o = e->offload;
  if (!o) return;
  s->unwatch(o->hub);
  --o->servers;
}

int offload_traverse(EngineObject* e, visitproc visit, void* arg) {
  Offload* o = e->offload;
  if (!o) return 0;
  Py_VISIT(reinterpret_cast<PyObject*>(o->marker));
  for (auto& b : o->batchers)
    if (b) {
      Py_VISIT(b->endpoint);
      Py_VISIT(b->validate);
      Py_VISIT(b->item_response);
    }
  return 0;
}

void offload_clear(EngineObject* e) {
  Offload* o = e->offload;
  if (!o) return;
  for (auto& b : o->batchers)
    if (b) {
      Py_CLEAR(b->endpoint);
      Py_CLEAR(b->validate);
      Py_CLEAR(b->item_response);
    }
}

void offload_free(EngineObject* e) {
  Offload* o = e->offload;
  if (!o) return;
  e->offload = nullptr;
  if (o->pool) {
    // Jobs hold a reference to the engine, so none is in flight here: the workers are parked.
    Py_BEGIN_ALLOW_THREADS o->pool->stop();
    Py_END_ALLOW_THREADS
    // The workers' thread states, unless the interpreter already freed them (it deletes every
    // thread state it still lists when it is torn down, and an engine may outlive that).
#ifndef PYPY_VERSION
        for (PyThreadState* ts : o->tstates) {
      bool listed = false;
      for (PyThreadState* t = PyInterpreterState_ThreadHead(o->interp); t && !listed; t = PyThreadState_Next(t))
        listed = t == ts;
      if (listed) {
        PyThreadState_Clear(ts);
        PyThreadState_Delete(ts);
      }
    }
#endif
    // (PyPy: cpyext cannot walk an interpreter's thread states; the workers' states, from
    // PyGILState_Ensure, are left to PyPy.)
    o->pool.reset();
  }
  for (auto& b : o->batchers)
    if (b) {
      for (auto& it : b->queue) {
        Py_XDECREF(it.item);
        deferred_free(it.d);
      }
      Py_CLEAR(b->endpoint);
      Py_CLEAR(b->validate);
      Py_CLEAR(b->item_response);
    }
  Py_CLEAR(o->marker);
  ::close(o->tfd);
  ::close(o->hub);
  delete o;
}

int offload_add_to_type(PyTypeObject* tp) {
  for (PyMethodDef* m = methods; m->ml_name; ++m) {
    PyObject* d = PyDescr_NewMethod(tp, m);
    if (!d || PyObject_SetAttrString(reinterpret_cast<PyObject*>(tp), m->ml_name, d) < 0) {
      Py_XDECREF(d);
      return -1;
    }
    Py_DECREF(d);
  }
  for (PyGetSetDef* g = getset; g->name; ++g) {
    PyObject* d = PyDescr_NewGetSet(tp, g);
    if (!d || PyObject_SetAttrString(reinterpret_cast<PyObject*>(tp), g->name, d) < 0) {
      Py_XDECREF(d);
      return -1;
    }
    Py_DECREF(d);
  }
  return 0;
}

}  // namespace fasterapi::bridge
