// Benchmark entry points behind docs/performance.md: per-stage timings of one request through an
// in-memory connection, allocations per request, the cost of the socket write, and an
// allocation-failure injection for tests. Compiled only in the bench build (CMake option
// FASTERAPI_BENCH, benchmarks/README.md): the _core users install has none of this.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "bridge/engine.hpp"
#include "bridge/perf.hpp"
#include "bridge/state.hpp"
#include "bridge/boundary.hpp"
#include "http/connection.hpp"
#include "http/parser.hpp"
#include "router/router.hpp"

namespace fasterapi::bridge {

thread_local StageMarks* t_stage_marks = nullptr;
std::atomic<int> g_injected_allocation_failures{0};

namespace {

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

double median(std::vector<double>& v) {
  if (v.empty()) return 0;
  size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + long(mid), v.end());
  return v[mid];
}

EngineObject* engine_arg(PyObject* m, PyObject* engine) {
  if (!PyObject_TypeCheck(engine, state_of(m)->engine_type)) {
    PyErr_SetString(PyExc_TypeError, "engine must be a fasterapi._core.Engine");
    return nullptr;
  }
  return reinterpret_cast<EngineObject*>(engine);
}

// Feeds one request through `conn`; false (with an exception set) unless it completed at once.
bool one_request(http::Connection& conn, const char* data, size_t len) {
  conn.on_data(data, len);
  conn.output().clear();
  if (PyErr_Occurred()) return false;
  if (conn.pending() || conn.should_close()) {
    PyErr_SetString(PyExc_RuntimeError, "request did not complete synchronously (or closed the connection)");
    return false;
  }
  return true;
}

// One in-memory connection of an engine, for the bench_* functions.
struct BenchConn {
  http::Limits limits;
  BridgeDispatcher d;
  http::Connection conn;
  explicit BenchConn(EngineObject* e) : limits(*e->limits), d(e, "bench", 1), conn(limits, d) { d.link->conn = &conn; }
};

// The request bytes fed `iterations` times through one connection, timed in batches with `clock`:
// a list of ns per request per batch. bench_connection: the wall clock; bench_cpu: this thread's
// CPU clock (time spent preempted on a shared machine is not counted).
PyObject* timed_batches(PyObject* m, PyObject* args, clockid_t clock) {
  PyObject* engine;
  Py_buffer req;
  long long iterations;
  int batch = 1000;
  if (!PyArg_ParseTuple(args, "Oy*L|i", &engine, &req, &iterations, &batch)) return nullptr;
  EngineObject* e = engine_arg(m, engine);
  if (!e || batch <= 0) {
    if (e) PyErr_SetString(PyExc_ValueError, "batch must be positive");
    PyBuffer_Release(&req);
    return nullptr;
  }
  BenchConn bc(e);
  const char* data = static_cast<const char*>(req.buf);
  size_t len = size_t(req.len);
  PyObject* out = PyList_New(0);
  bool ok = out != nullptr;
  for (long long done = 0; ok && done < iterations; done += batch) {
    timespec t0, t1;
    clock_gettime(clock, &t0);
    for (int i = 0; i < batch && ok; ++i) ok = one_request(bc.conn, data, len);
    clock_gettime(clock, &t1);
    double ns = (double(t1.tv_sec - t0.tv_sec) * 1e9 + double(t1.tv_nsec - t0.tv_nsec)) / batch;
    PyObject* v = ok ? PyFloat_FromDouble(ns) : nullptr;
    ok = v && PyList_Append(out, v) == 0;
    Py_XDECREF(v);
  }
  PyBuffer_Release(&req);
  if (!ok) {
    Py_XDECREF(out);
    return nullptr;
  }
  return out;
}

// bench_stages(engine, request, iterations) -> {stage: median ns}
PyObject* bench_stages(PyObject* m, PyObject* args) {
  PyObject* engine;
  Py_buffer req;
  long long iterations;
  if (!PyArg_ParseTuple(args, "Oy*L", &engine, &req, &iterations)) return nullptr;
  EngineObject* e = engine_arg(m, engine);
  if (!e) {
    PyBuffer_Release(&req);
    return nullptr;
  }
  BenchConn bc(e);
  http::Connection& conn = bc.conn;
  const char* data = static_cast<const char*>(req.buf);
  size_t len = size_t(req.len);
  std::vector<double> total, route, dispatch, handler, serialize, rest;
  size_t n = size_t(std::max(1LL, iterations));
  for (auto* v : {&total, &route, &dispatch, &handler, &serialize, &rest}) v->reserve(n);
  StageMarks marks{};
  bool ok = true;
  for (int i = 0; i < 1000 && ok; ++i) ok = one_request(conn, data, len);  // warm-up, unprofiled
  // What one stamp adds to an interval: the median of two stamps back to back, through the same
  // path the request uses (stage_mark), taken out of every stage below.
  std::vector<double> empty;
  empty.reserve(10000);
  t_stage_marks = &marks;
  for (int i = 0; i < 10000; ++i) {
    stage_mark(kCallStart);
    stage_mark(kCallEnd);
    empty.push_back(double(marks.t[kCallEnd] - marks.t[kCallStart]));
  }
  const double stamp = median(empty);
  auto net = [stamp](double interval, int stamps) { return std::max(0.0, interval - stamp * stamps); };
  for (size_t i = 0; i < n && ok; ++i) {
    marks = StageMarks{};
    uint64_t t0 = now_ns();
    conn.on_data(data, len);
    uint64_t t1 = now_ns();
    conn.output().clear();
    if (PyErr_Occurred() || conn.pending() || conn.should_close()) {
      ok = false;
      if (!PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, "request did not complete synchronously");
      break;
    }
    const uint64_t* t = marks.t;
    double r = double(t[kRouteEnd] - t[kRouteStart]);
    uint64_t call_start = t[kCallStart] ? t[kCallStart] : t[kHandleStart];
    uint64_t call_end = t[kCallEnd] ? t[kCallEnd] : call_start;
    // Requests without a body are routed inside handle(): that interval is the route stage's.
    bool routed_inside = t[kRouteStart] >= t[kHandleStart];
    double dsp = double(call_start - t[kHandleStart]) - (routed_inside ? r : 0);
    double h = double(call_end - call_start);
    double s = double(t[kHandleEnd] - call_end);
    double tot = double(t1 - t0);
    r = net(r, 1);
    dsp = net(dsp, routed_inside ? 2 : 1);
    h = net(h, 1);
    s = net(s, 1);
    total.push_back(tot);
    route.push_back(r);
    dispatch.push_back(dsp);
    handler.push_back(h);
    serialize.push_back(s);
    rest.push_back(tot - r - dsp - h - s);  // with every stamp in it
  }
  t_stage_marks = nullptr;
  PyBuffer_Release(&req);
  if (!ok) return nullptr;
  return Py_BuildValue("{sdsdsdsdsdsdsd}", "total", median(total), "parse", median(rest), "route", median(route),
                       "dispatch", median(dispatch), "handler", median(handler), "serialize", median(serialize),
                       "timer", stamp);
}

// bench_cpu(engine, request, iterations, batch=1000) -> [CPU ns per request per batch]: as
// bench_connection, timed with this thread's CPU clock, so time the thread spends preempted on a
// shared machine is not counted.
PyObject* bench_cpu(PyObject* m, PyObject* args) { return timed_batches(m, args, CLOCK_THREAD_CPUTIME_ID); }

#ifndef PYPY_VERSION  // PyPy's cpyext has no PyMem_GetAllocator/SetAllocator (and no CPython allocator)
// ---- allocation counting: a hook around the object and mem allocators -------------------------

struct CountingAlloc {
  PyMemAllocatorEx orig;
  uint64_t mallocs = 0, reallocs = 0, bytes = 0;
};
CountingAlloc g_counts[2];  // [0]: PYMEM_DOMAIN_MEM, [1]: PYMEM_DOMAIN_OBJ (plain data, no PyObject*)

void* count_malloc(void* ctx, size_t n) {
  auto* c = static_cast<CountingAlloc*>(ctx);
  ++c->mallocs;
  c->bytes += n;
  return c->orig.malloc(c->orig.ctx, n);
}
void* count_calloc(void* ctx, size_t k, size_t n) {
  auto* c = static_cast<CountingAlloc*>(ctx);
  ++c->mallocs;
  c->bytes += k * n;
  return c->orig.calloc(c->orig.ctx, k, n);
}
void* count_realloc(void* ctx, void* p, size_t n) {
  auto* c = static_cast<CountingAlloc*>(ctx);
  ++c->reallocs;
  return c->orig.realloc(c->orig.ctx, p, n);
}
void count_free(void* ctx, void* p) {
  auto* c = static_cast<CountingAlloc*>(ctx);
  c->orig.free(c->orig.ctx, p);
}

// bench_allocs(engine, request, iterations) -> {"mem": n, "obj": n, "realloc": n, "bytes": n} per
// request: calls into CPython's allocators (PyMem_* and PyObject_* domains) while serving it.
PyObject* bench_allocs(PyObject* m, PyObject* args) {
  PyObject* engine;
  Py_buffer req;
  long long iterations;
  if (!PyArg_ParseTuple(args, "Oy*L", &engine, &req, &iterations)) return nullptr;
  EngineObject* e = engine_arg(m, engine);
  if (!e) {
    PyBuffer_Release(&req);
    return nullptr;
  }
  BenchConn bc(e);
  http::Connection& conn = bc.conn;
  const char* data = static_cast<const char*>(req.buf);
  size_t len = size_t(req.len);
  bool ok = true;
  for (int i = 0; i < 1000 && ok; ++i) ok = one_request(conn, data, len);
  long long n = std::max(1LL, iterations);
  const PyMemAllocatorDomain domains[2] = {PYMEM_DOMAIN_MEM, PYMEM_DOMAIN_OBJ};
  PyMemAllocatorEx hook{nullptr, count_malloc, count_calloc, count_realloc, count_free};
  for (int k = 0; k < 2 && ok; ++k) {
    g_counts[k] = CountingAlloc{};
    PyMem_GetAllocator(domains[k], &g_counts[k].orig);
    hook.ctx = &g_counts[k];
    PyMem_SetAllocator(domains[k], &hook);
  }
  for (long long i = 0; i < n && ok; ++i) ok = one_request(conn, data, len);
  for (int k = 0; k < 2; ++k) PyMem_SetAllocator(domains[k], &g_counts[k].orig);
  PyBuffer_Release(&req);
  if (!ok) return nullptr;
  double dn = double(n);
  return Py_BuildValue("{sdsdsdsd}", "mem", double(g_counts[0].mallocs) / dn, "obj", double(g_counts[1].mallocs) / dn,
                       "realloc", double(g_counts[0].reallocs + g_counts[1].reallocs) / dn, "bytes",
                       double(g_counts[0].bytes + g_counts[1].bytes) / dn);
}
#else
PyObject* bench_allocs(PyObject*, PyObject*) {
  PyErr_SetString(PyExc_NotImplementedError, "bench_allocs counts CPython's allocator calls: not on PyPy");
  return nullptr;
}
#endif

// bench_send(response, iterations) -> median ns of one send() of `response` on a TCP loopback
// connection (TCP_NODELAY, the receiver drains between sends, outside the timing).
PyObject* bench_send(PyObject*, PyObject* args) {
  Py_buffer resp;
  long long iterations;
  if (!PyArg_ParseTuple(args, "y*L", &resp, &iterations)) return nullptr;
  int lfd = socket(AF_INET, SOCK_STREAM, 0), cfd = -1, sfd = -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof addr;
  bool ok = lfd >= 0 && bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && listen(lfd, 1) == 0 &&
            getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &alen) == 0;
  if (ok) {
    cfd = socket(AF_INET, SOCK_STREAM, 0);
    ok = cfd >= 0 && connect(cfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  if (ok) ok = (sfd = accept(lfd, nullptr, nullptr)) >= 0;
  std::vector<double> times;
  if (ok) {
    int one = 1;
    setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::vector<char> sink(size_t(resp.len) + 65536);
    long long n = std::max(1LL, iterations);
    times.reserve(size_t(n));
    for (long long i = 0; i < n + 100 && ok; ++i) {
      uint64_t t0 = now_ns();
      ssize_t w = send(sfd, resp.buf, size_t(resp.len), MSG_NOSIGNAL);
      uint64_t t1 = now_ns();
      if (w != resp.len) {
        ok = false;
        break;
      }
      if (i >= 100) times.push_back(double(t1 - t0));
      size_t got = 0;
      while (got < size_t(resp.len)) {
        ssize_t r = recv(cfd, sink.data(), sink.size(), 0);
        if (r <= 0) {
          ok = false;
          break;
        }
        got += size_t(r);
      }
    }
  }
  for (int fd : {lfd, cfd, sfd})
    if (fd >= 0) close(fd);
  PyBuffer_Release(&resp);
  if (!ok) return PyErr_SetFromErrno(PyExc_OSError);
  return PyFloat_FromDouble(median(times));
}

double elapsed_ns(const timespec& a, const timespec& b) {
  return double(b.tv_sec - a.tv_sec) * 1e9 + double(b.tv_nsec - a.tv_nsec);
}

// bench_connection(engine, request, iterations) -> list of per-batch ns/request.
// Feeds the same request bytes `iterations` times through one in-memory connection (parser,
// router, plan, handler, serializer) and reports the median-able timings; for benchmarks/.
PyObject* core_bench_connection(PyObject* m, PyObject* args) { return timed_batches(m, args, CLOCK_MONOTONIC); }

// A dispatcher that answers nothing: isolates the HTTP layer's own cost.
class NullDispatcher final : public http::Dispatcher {
 public:
  uint64_t body_limit(const http::Request&) override { return 1 << 20; }
  http::HandleResult handle(const http::Request& req, http::Buffer&) override {
    sink_ += req.num_headers + req.body.size();
    return http::HandleResult::Done;
  }
  size_t sink_ = 0;
};

// bench_parse(request, iterations, batch=1000) -> [ns per request per batch]: parser + framing only.
PyObject* core_bench_parse(PyObject*, PyObject* args) {
  Py_buffer req;
  long long iterations;
  int batch = 1000;
  if (!PyArg_ParseTuple(args, "y*L|i", &req, &iterations, &batch)) return nullptr;
  http::Limits limits;
  NullDispatcher d;
  http::Connection conn(limits, d);
  PyObject* out = PyList_New(0);
  for (long long done = 0; done < iterations; done += batch) {
    timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < batch; ++i) conn.on_data(static_cast<const char*>(req.buf), size_t(req.len));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    PyObject* v = PyFloat_FromDouble(elapsed_ns(t0, t1) / batch);
    PyList_Append(out, v);
    Py_DECREF(v);
  }
  PyBuffer_Release(&req);
  if (conn.should_close()) {
    Py_DECREF(out);
    PyErr_SetString(PyExc_ValueError, "the request was rejected by the parser");
    return nullptr;
  }
  return out;
}

// bench_route(engine, method, path, iterations, batch=1000) -> [ns per match per batch].
PyObject* core_bench_route(PyObject* m, PyObject* args) {
  PyObject* engine;
  const char *method, *path;
  long long iterations;
  int batch = 1000;
  if (!PyArg_ParseTuple(args, "OssL|i", &engine, &method, &path, &iterations, &batch)) return nullptr;
  if (!PyObject_TypeCheck(engine, state_of(m)->engine_type)) {
    PyErr_SetString(PyExc_TypeError, "engine must be a fasterapi._core.Engine");
    return nullptr;
  }
  auto* e = reinterpret_cast<EngineObject*>(engine);
  router::Match match;
  PyObject* out = PyList_New(0);
  std::string_view meth(method), p(path);
  long found = 0;
  for (long long done = 0; done < iterations; done += batch) {
    timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < batch; ++i) {
      e->router->match(meth, p, match);
      found += match.kind == router::Match::Found;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    PyObject* v = PyFloat_FromDouble(elapsed_ns(t0, t1) / batch);
    PyList_Append(out, v);
    Py_DECREF(v);
  }
  if (found == 0) {
    Py_DECREF(out);
    PyErr_SetString(PyExc_ValueError, "no route matches");
    return nullptr;
  }
  return out;
}

// _fail_allocations(n): the next n requests fail with std::bad_alloc as they start
// (tests/integration/test_out_of_memory.py); 0 disarms. Returns the previous count.
PyObject* fail_allocations(PyObject*, PyObject* arg) {
  long n = PyLong_AsLong(arg);
  if (n == -1 && PyErr_Occurred()) return nullptr;
  if (n < 0 || n > 1000000) {
    PyErr_SetString(PyExc_ValueError, "_fail_allocations(n): 0 <= n <= 1000000");
    return nullptr;
  }
  return PyLong_FromLong(g_injected_allocation_failures.exchange(int(n)));
}

}  // namespace

PyMethodDef bench_methods[] = {
    {"bench_parse", boundary<core_bench_parse>, METH_VARARGS,
     "bench_parse(request, iterations, batch=1000) -> [ns per request per batch]"},
    {"bench_route", boundary<core_bench_route>, METH_VARARGS,
     "bench_route(engine, method, path, iterations, batch=1000) -> [ns per match per batch]"},
    {"bench_connection", boundary<core_bench_connection>, METH_VARARGS,
     "bench_connection(engine, request, iterations, batch=1000) -> [ns per request per batch]"},
    {"_fail_allocations", boundary<fail_allocations>, METH_O,
     "_fail_allocations(n) -> previous n: the next n requests fail with std::bad_alloc (tests)"},
    {"bench_stages", boundary<bench_stages>, METH_VARARGS,
     "bench_stages(engine, request, iterations) -> {stage: median ns}: parse (and framing), route, dispatch "
     "(arguments, body validation), handler, serialize (each net of its clock stamps), total (with stamps), "
     "timer (the cost of one stamp)"},
    {"bench_cpu", boundary<bench_cpu>, METH_VARARGS,
     "bench_cpu(engine, request, iterations, batch=1000) -> [thread CPU ns per request per batch]"},
    {"bench_allocs", boundary<bench_allocs>, METH_VARARGS,
     "bench_allocs(engine, request, iterations) -> CPython allocator calls per request"},
    {"bench_send", boundary<bench_send>, METH_VARARGS,
     "bench_send(response, iterations) -> median ns of one send() on a TCP loopback connection"},
    {nullptr, nullptr, 0, nullptr}};

}  // namespace fasterapi::bridge
