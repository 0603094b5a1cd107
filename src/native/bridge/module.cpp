// The one place that includes Python: the fasterapi._core extension module (multi-phase init,
// module state, heap types; importable in sub-interpreters).
#include "bridge/state.hpp"

#include <structmember.h>

#include <time.h>

#include <cstring>
#include <new>
#include <stdexcept>
#include <utility>

#include "bridge/engine.hpp"
#include "bridge/metrics.hpp"
#include "bridge/offload.hpp"
#include "bridge/native_route.hpp"
#include "bridge/perf.hpp"
#include "bridge/pyjson.hpp"
#include "bridge/state.hpp"
#include "bridge/boundary.hpp"
#include "http/response.hpp"
#include "server/loop.hpp"

namespace fb = fasterapi::bridge;
namespace fh = fasterapi::http;
namespace fs = fasterapi::server;

namespace fasterapi::bridge {
namespace {

// ---- limits / config from a dict ---------------------------------------------------------------

bool read_u64(PyObject* d, const char* key, uint64_t& out) {
  if (!d || d == Py_None) return true;
  PyObject* v = PyDict_GetItemString(d, key);  // borrowed
  if (!v) return true;
  unsigned long long x = PyLong_AsUnsignedLongLong(v);
  if (x == (unsigned long long)-1 && PyErr_Occurred()) return false;
  out = x;
  return true;
}
template <class T>
bool read_num(PyObject* d, const char* key, T& out) {
  uint64_t v = out;
  if (!read_u64(d, key, v)) return false;
  out = T(v);
  return true;
}

bool read_limits(PyObject* d, fh::Limits& l) {
  return read_num(d, "max_request_line", l.max_request_line) && read_num(d, "max_head", l.max_head) &&
         read_num(d, "max_headers", l.max_headers) && read_num(d, "max_body", l.max_body) &&
         read_num(d, "max_pipelined", l.max_pipelined) && read_num(d, "output_high_water", l.output_high_water) &&
         read_num(d, "max_websocket_message", l.max_websocket_message);
}

// ---- Engine ------------------------------------------------------------------------------------

PyObject* engine_new(PyTypeObject* tp, PyObject*, PyObject*) {
  auto* self = reinterpret_cast<EngineObject*>(tp->tp_alloc(tp, 0));
  if (!self) return nullptr;
  self->st = state_from_type(tp);
  self->router = new router::Router();
  self->routes = new std::vector<Route>();
  self->limits = new fh::Limits();
  self->perf = new PerfState();
  self->python_routing_headers = new std::vector<std::string>();
  self->compiled_headers = new std::string();
  self->access_log = Py_NewRef(Py_None);
  self->websocket_handler = Py_NewRef(Py_None);
  self->task_starter = Py_NewRef(Py_None);
  self->task_hooks = Py_NewRef(Py_None);
  return reinterpret_cast<PyObject*>(self);
}

int engine_init(PyObject* o, PyObject* args, PyObject* kw) {
  auto* self = reinterpret_cast<EngineObject*>(o);
  static const char* names[] = {"app_handler", "response_type", "json_default", "error_handler", "limits", nullptr};
  PyObject *app, *rtype, *jdef, *eh, *limits = nullptr;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOO|O", const_cast<char**>(names), &app, &rtype, &jdef, &eh, &limits))
    return -1;
  if (!read_limits(limits, *self->limits)) return -1;
  if (self->limits->max_headers > fh::kMaxHeaders) self->limits->max_headers = fh::kMaxHeaders;
  PyObject* runtime = PyImport_ImportModule("fasterapi._runtime");
  if (!runtime) return -1;
  PyObject* resume = PyObject_GetAttrString(runtime, "resume");
  Py_DECREF(runtime);
  if (!resume) return -1;
  Py_XSETREF(self->resume, resume);
  Py_XSETREF(self->app_handler, Py_NewRef(app));
  Py_XSETREF(self->response_type, Py_NewRef(rtype));
  Py_XSETREF(self->json_default, jdef == Py_None ? nullptr : Py_NewRef(jdef));
  Py_XSETREF(self->error_handler, Py_NewRef(eh));
  return 0;
}

void clear_route(Route& r) {
  Py_CLEAR(r.handler);
  Py_CLEAR(r.endpoint);
  Py_CLEAR(r.kwnames);
  Py_CLEAR(r.body_validator);
  Py_CLEAR(r.native);
  Py_CLEAR(r.guard);
  Py_CLEAR(r.text);
  for (auto& p : r.params) Py_CLEAR(p.default_value);
}

int engine_traverse(PyObject* o, visitproc visit, void* arg) {
  auto* self = reinterpret_cast<EngineObject*>(o);
  Py_VISIT(Py_TYPE(o));
  Py_VISIT(self->app_handler);
  Py_VISIT(self->response_type);
  Py_VISIT(self->json_default);
  Py_VISIT(self->error_handler);
  Py_VISIT(self->resume);
  Py_VISIT(self->access_log);
  Py_VISIT(self->websocket_handler);
  Py_VISIT(self->task_starter);
  Py_VISIT(self->task_hooks);
  Py_VISIT(self->step_worker);
  Py_VISIT(self->step_task);
  Py_VISIT(self->step_loop);
  if (int rc = offload_traverse(self, visit, arg)) return rc;
  if (self->routes)
    for (auto& r : *self->routes) {
      Py_VISIT(r.handler);
      Py_VISIT(r.endpoint);
      Py_VISIT(r.body_validator);
      Py_VISIT(r.native);
      Py_VISIT(r.guard);
      Py_VISIT(r.text);
      for (auto& p : r.params) Py_VISIT(p.default_value);
    }
  return 0;
}

int engine_clear(PyObject* o) {
  auto* self = reinterpret_cast<EngineObject*>(o);
  Py_CLEAR(self->app_handler);
  Py_CLEAR(self->response_type);
  Py_CLEAR(self->json_default);
  Py_CLEAR(self->error_handler);
  Py_CLEAR(self->resume);
  Py_CLEAR(self->access_log);
  Py_CLEAR(self->websocket_handler);
  Py_CLEAR(self->task_starter);
  Py_CLEAR(self->task_hooks);
  Py_CLEAR(self->step_worker);
  Py_CLEAR(self->step_task);
  Py_CLEAR(self->step_loop);
  offload_clear(self);
  if (self->routes)
    for (auto& r : *self->routes) clear_route(r);
  if (self->perf) { self->perf->pool.clear(); }
  return 0;
}

void engine_dealloc(PyObject* o) {
  auto* self = reinterpret_cast<EngineObject*>(o);
  PyTypeObject* tp = Py_TYPE(o);
  PyObject_GC_UnTrack(o);
  if (self->weakrefs) PyObject_ClearWeakRefs(o);
  engine_clear(o);
  offload_free(self);
  delete self->router;
  delete self->routes;
  delete self->limits;
  delete self->perf;
  delete self->python_routing_headers;
  delete self->compiled_headers;
  tp->tp_free(o);
  Py_DECREF(tp);
}

// ---- the plan of a compiled route: fasterapi.compiler.Plan, read by attribute name ----------------

// A new reference to o.name, or nullptr with AttributeError set.
struct Attr {
  PyObject* v = nullptr;
  Attr(PyObject* o, const char* name) : v(PyObject_GetAttrString(o, name)) {}
  ~Attr() { Py_XDECREF(v); }
  Attr(const Attr&) = delete;
  Attr& operator=(const Attr&) = delete;
  explicit operator bool() const { return v != nullptr; }
};

bool plan_error(const char* what) {
  PyErr_Format(PyExc_TypeError, "invalid plan: %s", what);
  return false;
}

// One of a Literal's names (a str) into its enum value; ValueError for any other name.
template <typename E, size_t N>
bool parse_name(PyObject* s, const std::pair<std::string_view, E> (&names)[N], E& out, const char* what) {
  const char* v = PyUnicode_Check(s) ? PyUnicode_AsUTF8(s) : nullptr;
  if (!v) {
    if (!PyErr_Occurred()) PyErr_Format(PyExc_TypeError, "invalid plan: PlanParam.%s must be a str", what);
    return false;
  }
  for (const auto& [name, value] : names)
    if (name == v) {
      out = value;
      return true;
    }
  PyErr_Format(PyExc_ValueError, "unknown param %s %s", what, v);
  return false;
}

constexpr std::pair<std::string_view, ParamSource> kSources[] = {{"path", ParamSource::Path},
                                                                 {"query", ParamSource::Query},
                                                                 {"header", ParamSource::Header},
                                                                 {"cookie", ParamSource::Cookie}};
constexpr std::pair<std::string_view, ParamKind> kKinds[] = {
    {"int", ParamKind::Int}, {"float", ParamKind::Float}, {"str", ParamKind::Str}, {"bool", ParamKind::Bool}};

// A PlanParam (name, source, kind, default, key) into p; its keyword name (new reference) into name.
bool parse_plan_param(EngineObject* e, PyObject* o, PlanParam& p, PyObject*& name) {
  Attr n(o, "name"), source(o, "source"), kind(o, "kind"), def(o, "default"), key(o, "key");
  if (!n || !source || !kind || !def || !key) return false;
  if (!PyUnicode_Check(n.v)) return plan_error("PlanParam.name must be a str");
  if (key.v != Py_None && !PyUnicode_Check(key.v)) return plan_error("PlanParam.key must be a str or None");
  if (!parse_name(source.v, kSources, p.source, "source") || !parse_name(kind.v, kKinds, p.kind, "kind")) return false;
  const char* k = PyUnicode_AsUTF8(key.v != Py_None ? key.v : n.v);  // as the request spells it
  if (!k) return false;
  p.key = k;
  if (p.source == ParamSource::Header)
    for (char& ch : p.key) ch = char(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
  p.default_value = def.v == e->st->required ? nullptr : Py_NewRef(def.v);
  name = Py_NewRef(n.v);
  PyUnicode_InternInPlace(&name);
  return true;
}

// plan (fasterapi.compiler.Plan, or any object with its attributes) into r, validated: a plan the
// engine could not run is refused here, when the route is added, not at its first request.
bool parse_plan(EngineObject* e, PyObject* plan, Route& r) {
  Attr call(plan, "call"), is_async(plan, "is_async"), status(plan, "status"), params(plan, "params"),
      body(plan, "body"), guard(plan, "guard"), json_bytes(plan, "json_bytes"), wants_request(plan, "wants_request"),
      text(plan, "text");
  if (!call || !is_async || !status || !params || !body || !guard || !json_bytes || !wants_request || !text)
    return false;
  if (!PyCallable_Check(call.v)) return plan_error("Plan.call must be callable");
  long st = PyLong_Check(status.v) ? PyLong_AsLong(status.v) : -1;
  if (st < 200 || st > 599) return plan_error("Plan.status must be an int in 200..599");
  int async_ = PyObject_IsTrue(is_async.v), jb = PyObject_IsTrue(json_bytes.v), wr = PyObject_IsTrue(wants_request.v);
  if (async_ < 0 || jb < 0 || wr < 0) return false;
  r.has_plan = true;
  r.endpoint = Py_NewRef(call.v);
  r.is_async = async_;
  r.status = int(st);
  r.json_bytes = jb;
  r.wants_request = wr;
  if (guard.v != Py_None) r.guard = Py_NewRef(guard.v);
  if (text.v != Py_None) {
    Attr line(text.v, "content_type_line"), finish(text.v, "finish");
    if (!line || !finish) return false;
    if (!PyBytes_Check(line.v) || !PyCallable_Check(finish.v))
      return plan_error("PlanText is (content_type_line: bytes, finish: callable)");
    r.text = PyTuple_Pack(2, line.v, finish.v);  // (line, finish), as finish() in engine.cpp reads it
    if (!r.text) return false;
  }
  PyObject* pseq = PySequence_Fast(params.v, "Plan.params must be a sequence of PlanParam");
  if (!pseq) return false;
  Py_ssize_t np = PySequence_Fast_GET_SIZE(pseq);
  bool has_body = body.v != Py_None;
  PyObject* kwnames = PyTuple_New(np + (has_body ? 1 : 0) + (r.wants_request ? 1 : 0));
  r.kwnames = kwnames;  // (cleared with the route on failure; unset slots are NULL, which tuple dealloc skips)
  bool ok = kwnames != nullptr;
  for (Py_ssize_t i = 0; ok && i < np; ++i) {
    PlanParam p;
    PyObject* name = nullptr;
    ok = parse_plan_param(e, PySequence_Fast_GET_ITEM(pseq, i), p, name);
    if (ok) {
      r.params.push_back(std::move(p));
      PyTuple_SET_ITEM(kwnames, i, name);
    }
  }
  Py_DECREF(pseq);
  if (ok && has_body) {
    Attr bname(body.v, "name"), validate(body.v, "validate_json");
    ok = bname && validate;
    if (ok && (!PyUnicode_Check(bname.v) || !PyCallable_Check(validate.v)))
      ok = plan_error("PlanBody is (name: str, validate_json: callable)");
    if (ok) {
      PyTuple_SET_ITEM(kwnames, np, Py_NewRef(bname.v));
      r.body_validator = Py_NewRef(validate.v);
    }
  }
  if (ok && r.wants_request) {
    PyObject* rname = PyUnicode_InternFromString("request_data");
    ok = rname != nullptr;
    if (ok) PyTuple_SET_ITEM(kwnames, np + (has_body ? 1 : 0), rname);
  }
  return ok;
}

// add_route(methods, path, handler, plan=None, body_limit=-1, static=False, native=None, head=True)
// head=False: a GET route does not answer HEAD (FastAPI's APIRoute: HEAD is a 405 there).
PyObject* engine_add_route(PyObject* o, PyObject* args, PyObject* kw) {
  auto* self = reinterpret_cast<EngineObject*>(o);
  static const char* names[] = {"methods", "path",   "handler", "plan", "body_limit",
                                "static",  "native", "head",    nullptr};
  PyObject *methods_o, *handler, *plan = Py_None, *native = Py_None;
  const char* path;
  long long body_limit = -1;
  int is_static = 0, head_from_get = 1;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "OsO|OLpOp", const_cast<char**>(names), &methods_o, &path, &handler, &plan,
                                   &body_limit, &is_static, &native, &head_from_get))
    return nullptr;
  if (native != Py_None && !PyObject_TypeCheck(native, self->st->native_type)) {
    PyErr_SetString(PyExc_TypeError, "native must be a fasterapi._core.NativeHandler or None");
    return nullptr;
  }
  std::vector<std::string> methods;
  PyObject* seq = PySequence_Fast(methods_o, "methods must be a sequence of str");
  if (!seq) return nullptr;
  for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); ++i) {
    const char* m = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(seq, i));
    if (!m) {
      Py_DECREF(seq);
      return nullptr;
    }
    methods.emplace_back(m);
  }
  Py_DECREF(seq);
  Route r;
  r.handler = Py_NewRef(handler);
  r.body_limit = body_limit;
  r.is_static = is_static;
  if (native != Py_None) r.native = Py_NewRef(native);
  if (plan != Py_None && !parse_plan(self, plan, r)) {
    clear_route(r);
    return nullptr;
  }
  try {
    self->router->add(methods, path, int(self->routes->size()), head_from_get);
  } catch (const std::exception& ex) {
    clear_route(r);
    PyErr_SetString(PyExc_ValueError, ex.what());
    return nullptr;
  }
  self->routes->push_back(std::move(r));
  note_route_label(int(self->routes->size()) - 1, methods, path);  // the metrics' route label
  Py_RETURN_NONE;
}

// match(method, path) -> (route_index | None, params) : for tests and debugging
PyObject* engine_match(PyObject* o, PyObject* args) {
  auto* self = reinterpret_cast<EngineObject*>(o);
  const char *method, *path;
  if (!PyArg_ParseTuple(args, "ss", &method, &path)) return nullptr;
  router::Match m;
  self->router->match(method, path, m);
  PyObject* params = PyDict_New();
  for (int i = 0; i < m.num_captures; ++i) {
    PyObject* v = PyUnicode_FromStringAndSize(m.captures[i].value.data(), Py_ssize_t(m.captures[i].value.size()));
    std::string k(m.captures[i].name);
    PyDict_SetItemString(params, k.c_str(), v);
    Py_DECREF(v);
  }
  if (m.kind == router::Match::Found) return Py_BuildValue("(iN)", m.route, params);
  if (m.kind == router::Match::MethodNotAllowed) return Py_BuildValue("(sN)", m.allow.c_str(), params);
  return Py_BuildValue("(ON)", Py_None, params);
}

PyObject* engine_connection(PyObject* o, PyObject* args, PyObject* kw);

PyMethodDef engine_methods[] = {
    {"add_route", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(boundary<engine_add_route>)),
     METH_VARARGS | METH_KEYWORDS,
     "add_route(methods, path, handler, plan=None, body_limit=-1, static=False, native=None, head=True)"},
    {"match", boundary<engine_match>, METH_VARARGS, "match(method, path) -> (route index | allow | None, params)"},
    {"connection", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(boundary<engine_connection>)),
     METH_VARARGS | METH_KEYWORDS, "connection(client=('testclient', 50000)) -> an in-memory Connection"},
    {nullptr, nullptr, 0, nullptr}};

PyMemberDef engine_members[] = {
    {"python_routing", T_BOOL, offsetof(EngineObject, python_routing), 0,
     "route every request through app_handler (apps with middleware)"},
    {"stream_bodies", T_BOOL, offsetof(EngineObject, stream_bodies), 0,
     "requests with a body that go to app_handler get it streamed: RequestData.body_reader"},
    {"access_log", T_OBJECT, offsetof(EngineObject, access_log), 0,
     "None, or callable((host, port), method, target, http_version, status, x_forwarded_for) after each "
     "response (x_forwarded_for: the header's bytes, b'' if absent)"},
    {"task_starter", T_OBJECT, offsetof(EngineObject, task_starter), 0,
     "None (coroutines stepped inline first), or callable(coro, done) running each as an asyncio task"},
    {"task_hooks", T_OBJECT, offsetof(EngineObject, task_hooks), 0,
     "None, or (get_running_loop or the loop, enter_task, leave_task, acquire_worker, release_worker, handoff): with a "
     "task_starter, the first step taken by the engine as a parked worker task"},
    {"websocket_handler", T_OBJECT, offsetof(EngineObject, websocket_handler), 0,
     "None, or callable(RequestData, WebSocketLink) for WebSocket handshakes (None: 403)"},
    {"__weaklistoffset__", T_PYSSIZET, offsetof(EngineObject, weakrefs), READONLY, nullptr},
    {nullptr, 0, 0, 0, nullptr}};

PyObject* engine_routes(PyObject* o, void*) {
  return PyLong_FromSize_t(reinterpret_cast<EngineObject*>(o)->routes->size());
}
PyObject* engine_max_body(PyObject* o, void*) {
  return PyLong_FromUnsignedLongLong(reinterpret_cast<EngineObject*>(o)->limits->max_body);
}
PyObject* engine_stats(PyObject* o, void*) {
  const PerfCounters& c = reinterpret_cast<EngineObject*>(o)->perf->counters;
  return Py_BuildValue("{sKsKsKsKsK}", "fast_path", (unsigned long long)c.fast_path, "python_path",
                       (unsigned long long)c.python_path, "request_data", (unsigned long long)c.request_data,
                       "static_hits", (unsigned long long)c.static_hits, "native_calls",
                       (unsigned long long)c.native_calls);
}
PyObject* engine_zero_copy_get(PyObject* o, void*) {
  return PyLong_FromLongLong(reinterpret_cast<EngineObject*>(o)->perf->zero_copy_min);
}
int engine_zero_copy_set(PyObject* o, PyObject* v, void*) {
  long long n = v ? PyLong_AsLongLong(v) : -1;
  if (n == -1 && PyErr_Occurred()) return -1;
  reinterpret_cast<EngineObject*>(o)->perf->zero_copy_min = n < 0 ? -1 : n;
  return 0;
}
PyObject* engine_pool_get(PyObject* o, void*) {
  return PyBool_FromLong(reinterpret_cast<EngineObject*>(o)->perf->pool_params);
}
int engine_pool_set(PyObject* o, PyObject* v, void*) {
  auto* self = reinterpret_cast<EngineObject*>(o);
  int on = v ? PyObject_IsTrue(v) : 0;
  if (on < 0) return -1;
  self->perf->pool_params = on;
  if (!on) self->perf->pool.clear();
  return 0;
}
PyObject* engine_prh_get(PyObject* o, void*) {
  auto* self = reinterpret_cast<EngineObject*>(o);
  PyObject* t = PyTuple_New(Py_ssize_t(self->python_routing_headers->size()));
  if (!t) return nullptr;
  for (size_t i = 0; i < self->python_routing_headers->size(); ++i) {
    const std::string& h = (*self->python_routing_headers)[i];
    PyObject* s = PyUnicode_FromStringAndSize(h.data(), Py_ssize_t(h.size()));
    if (!s) {
      Py_DECREF(t);
      return nullptr;
    }
    PyTuple_SET_ITEM(t, Py_ssize_t(i), s);
  }
  return t;
}

int engine_prh_set(PyObject* o, PyObject* v, void*) {
  auto* self = reinterpret_cast<EngineObject*>(o);
  if (!v) {
    PyErr_SetString(PyExc_AttributeError, "cannot delete python_routing_headers");
    return -1;
  }
  PyObject* seq = PySequence_Fast(v, "python_routing_headers must be a sequence of str");
  if (!seq) return -1;
  std::vector<std::string> names;
  for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); ++i) {
    Py_ssize_t n;
    const char* s = PyUnicode_AsUTF8AndSize(PySequence_Fast_GET_ITEM(seq, i), &n);
    if (!s) {
      Py_DECREF(seq);
      return -1;
    }
    std::string name(s, size_t(n));
    for (char& c : name) c = char(c >= 'A' && c <= 'Z' ? c + 32 : c);
    names.push_back(std::move(name));
  }
  Py_DECREF(seq);
  *self->python_routing_headers = std::move(names);
  return 0;
}

PyObject* engine_ch_get(PyObject* o, void*) {
  const std::string& h = *reinterpret_cast<EngineObject*>(o)->compiled_headers;
  return PyBytes_FromStringAndSize(h.data(), Py_ssize_t(h.size()));
}

// compiled_headers = [(name, value), ...] (bytes): validated here, kept as ready header lines.
int engine_ch_set(PyObject* o, PyObject* v, void*) {
  auto* self = reinterpret_cast<EngineObject*>(o);
  if (!v) {
    PyErr_SetString(PyExc_AttributeError, "cannot delete compiled_headers");
    return -1;
  }
  PyObject* seq = PySequence_Fast(v, "compiled_headers must be a sequence of (name, value) bytes pairs");
  if (!seq) return -1;
  std::string lines;
  for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); ++i) {
    PyObject* pair = PySequence_Fast_GET_ITEM(seq, i);
    if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 || !PyBytes_Check(PyTuple_GET_ITEM(pair, 0)) ||
        !PyBytes_Check(PyTuple_GET_ITEM(pair, 1))) {
      Py_DECREF(seq);
      PyErr_SetString(PyExc_TypeError, "compiled_headers items must be (bytes, bytes) pairs");
      return -1;
    }
    std::string_view name(PyBytes_AS_STRING(PyTuple_GET_ITEM(pair, 0)),
                          size_t(PyBytes_GET_SIZE(PyTuple_GET_ITEM(pair, 0))));
    std::string_view value(PyBytes_AS_STRING(PyTuple_GET_ITEM(pair, 1)),
                           size_t(PyBytes_GET_SIZE(PyTuple_GET_ITEM(pair, 1))));
    if (!fh::valid_header_name(name) || !fh::valid_header_value(value)) {
      Py_DECREF(seq);
      PyErr_SetString(PyExc_ValueError, "invalid character in a compiled_headers name or value");
      return -1;
    }
    lines.append(name).append(": ").append(value).append("\r\n");
  }
  Py_DECREF(seq);
  *self->compiled_headers = std::move(lines);
  return 0;
}

PyGetSetDef engine_getset[] = {
    {"compiled_headers", boundary<engine_ch_get>, boundary<engine_ch_set>,
     "header lines added to the JSON responses of compiled routes (set from "
     "[(name, value)] bytes pairs)",
     nullptr},
    {"route_count", boundary<engine_routes>, nullptr, "number of routes", nullptr},
    {"python_routing_headers", boundary<engine_prh_get>, boundary<engine_prh_set>,
     "with python_routing: route in Python only requests carrying one of these headers "
     "(empty: every request)",
     nullptr},
    {"max_body", boundary<engine_max_body>, nullptr, "default body limit", nullptr},
    {"stats", boundary<engine_stats>, nullptr,
     "counters: fast_path, python_path, request_data, static_hits, native_calls", nullptr},
    {"zero_copy_min", boundary<engine_zero_copy_get>, boundary<engine_zero_copy_set>,
     "bytes/str Response bodies at least this long are sent from the object itself "
     "(-1: always copy)",
     nullptr},
    {"pool_params", boundary<engine_pool_get>, boundary<engine_pool_set>,
     "reuse converted fast-path parameter objects (str/int/float) by their raw text", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

PyType_Slot engine_slots[] = {{Py_tp_new, reinterpret_cast<void*>(boundary<engine_new>)},
                              {Py_tp_init, reinterpret_cast<void*>(boundary<engine_init>)},
                              {Py_tp_dealloc, reinterpret_cast<void*>(boundary<engine_dealloc>)},
                              {Py_tp_traverse, reinterpret_cast<void*>(boundary<engine_traverse>)},
                              {Py_tp_clear, reinterpret_cast<void*>(boundary<engine_clear>)},
                              {Py_tp_methods, engine_methods},
                              {Py_tp_members, engine_members},
                              {Py_tp_getset, engine_getset},
                              {Py_tp_doc, const_cast<char*>("Engine(app_handler, response_type, json_default, "
                                                            "error_handler, limits=None)")},
                              {0, nullptr}};

// ---- in-memory Connection (TestClient, bytes-in/bytes-out tests) -------------------------------

struct ConnectionObject {
  PyObject_HEAD BridgeDispatcher* dispatcher;
  fh::Connection* conn;
  fh::Limits* limits;
  PyObject* waiter;  // called with no args when a pending response completes
};

PyObject* engine_connection(PyObject* o, PyObject* args, PyObject* kw) {
  auto* e = reinterpret_cast<EngineObject*>(o);
  static const char* names[] = {"client", nullptr};
  const char* host = "testclient";
  int port = 50000;
  PyObject* client = nullptr;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "|O", const_cast<char**>(names), &client)) return nullptr;
  if (client && client != Py_None && !PyArg_ParseTuple(client, "si", &host, &port)) return nullptr;
  PyTypeObject* tp = e->st->connection_type;
  auto* self = reinterpret_cast<ConnectionObject*>(tp->tp_alloc(tp, 0));
  if (!self) return nullptr;
  self->limits = new fh::Limits(*e->limits);
  self->dispatcher = new BridgeDispatcher(e, host, port);
  self->conn = new fh::Connection(*self->limits, *self->dispatcher);
  self->dispatcher->link->conn = self->conn;
  ConnectionObject* raw = self;
  self->dispatcher->link->kick = [raw] {
    raw->conn->resume();
    if (raw->waiter && raw->waiter != Py_None) {
      PyObject* r = PyObject_CallNoArgs(raw->waiter);
      if (!r) PyErr_WriteUnraisable(raw->waiter);
      Py_XDECREF(r);
    }
  };
  return reinterpret_cast<PyObject*>(self);
}

PyObject* conn_feed(PyObject* o, PyObject* arg) {
  auto* self = reinterpret_cast<ConnectionObject*>(o);
  Py_buffer view;
  if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return nullptr;
  if (view.len == 0)
    self->conn->on_eof();
  else
    self->conn->on_data(static_cast<const char*>(view.buf), size_t(view.len));
  PyBuffer_Release(&view);
  if (PyErr_Occurred()) return nullptr;
  Py_RETURN_NONE;
}

PyObject* conn_read(PyObject* o, PyObject*) {
  auto* self = reinterpret_cast<ConnectionObject*>(o);
  fh::Buffer& out = self->conn->output();
  std::string_view attached = out.attached();  // a zero-copy body (engine.zero_copy_min)
  PyObject* b = PyBytes_FromStringAndSize(nullptr, Py_ssize_t(out.size() + attached.size()));
  if (b) {
    if (out.size()) std::memcpy(PyBytes_AS_STRING(b), out.data(), out.size());
    if (!attached.empty()) std::memcpy(PyBytes_AS_STRING(b) + out.size(), attached.data(), attached.size());
  }
  out.clear();
  if (b && !self->conn->pending() && !self->conn->should_close()) self->conn->resume();
  return b;
}

PyObject* conn_eof(PyObject* o, PyObject*) {
  reinterpret_cast<ConnectionObject*>(o)->conn->on_eof();
  Py_RETURN_NONE;
}

PyObject* conn_pending(PyObject* o, void*) {
  return PyBool_FromLong(reinterpret_cast<ConnectionObject*>(o)->conn->pending());
}
PyObject* conn_closed(PyObject* o, void*) {
  return PyBool_FromLong(reinterpret_cast<ConnectionObject*>(o)->conn->should_close());
}
PyObject* conn_waiter_get(PyObject* o, void*) {
  auto* self = reinterpret_cast<ConnectionObject*>(o);
  return Py_NewRef(self->waiter ? self->waiter : Py_None);
}
int conn_waiter_set(PyObject* o, PyObject* v, void*) {
  auto* self = reinterpret_cast<ConnectionObject*>(o);
  Py_XINCREF(v);
  Py_XSETREF(self->waiter, v);
  return 0;
}

int conn_traverse(PyObject* o, visitproc visit, void* arg) {
  auto* self = reinterpret_cast<ConnectionObject*>(o);
  Py_VISIT(Py_TYPE(o));
  Py_VISIT(self->waiter);
  return 0;
}
int conn_clear(PyObject* o) {
  Py_CLEAR(reinterpret_cast<ConnectionObject*>(o)->waiter);
  return 0;
}
void conn_dealloc(PyObject* o) {
  auto* self = reinterpret_cast<ConnectionObject*>(o);
  PyTypeObject* tp = Py_TYPE(o);
  PyObject_GC_UnTrack(o);
  conn_clear(o);
  if (self->dispatcher) self->dispatcher->link->conn = nullptr;
  delete self->conn;
  delete self->dispatcher;
  delete self->limits;
  tp->tp_free(o);
  Py_DECREF(tp);
}

PyMethodDef conn_methods[] = {
    {"feed", boundary<conn_feed>, METH_O, "feed(data): bytes received from the client (b'' = end of input)"},
    {"read", boundary<conn_read>, METH_NOARGS, "read() -> bytes the server has written since the last read"},
    {"eof", boundary<conn_eof>, METH_NOARGS, "the client closed its side"},
    {nullptr, nullptr, 0, nullptr}};
PyGetSetDef conn_getset[] = {
    {"pending", boundary<conn_pending>, nullptr, "a response is being produced by an awaiting handler", nullptr},
    {"closed", boundary<conn_closed>, nullptr, "the server will close this connection", nullptr},
    {"waiter", boundary<conn_waiter_get>, boundary<conn_waiter_set>, "callable run when a pending response completes",
     nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};
PyType_Slot conn_slots[] = {{Py_tp_dealloc, reinterpret_cast<void*>(boundary<conn_dealloc>)},
                            {Py_tp_traverse, reinterpret_cast<void*>(boundary<conn_traverse>)},
                            {Py_tp_clear, reinterpret_cast<void*>(boundary<conn_clear>)},
                            {Py_tp_methods, conn_methods},
                            {Py_tp_getset, conn_getset},
                            {Py_tp_doc, const_cast<char*>("An in-memory connection: the same parser, router, "
                                                          "bridge and serializer as the socket path.")},
                            {0, nullptr}};

// ---- Server ------------------------------------------------------------------------------------

struct ServerObject {
  PyObject_HEAD fs::Server* server;
  PyObject* engine;
};

PyObject* server_new(PyTypeObject* tp, PyObject* args, PyObject* kw) {
  static const char* names[] = {"engine", "config", nullptr};
  PyObject *engine, *config = nullptr;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O", const_cast<char**>(names), &engine, &config)) return nullptr;
  ModuleState* st = state_from_type(tp);
  if (!PyObject_TypeCheck(engine, st->engine_type)) {
    PyErr_SetString(PyExc_TypeError, "engine must be a fasterapi._core.Engine");
    return nullptr;
  }
  auto* e = reinterpret_cast<EngineObject*>(engine);
  fs::Config cfg;
  cfg.limits = *e->limits;
  if (!read_num(config, "max_connections", cfg.max_connections) ||
      !read_num(config, "header_timeout_ms", cfg.header_timeout_ms) ||
      !read_num(config, "keepalive_timeout_ms", cfg.keepalive_timeout_ms) ||
      !read_num(config, "body_timeout_ms", cfg.body_timeout_ms) ||
      !read_num(config, "body_min_rate", cfg.body_min_rate) ||
      !read_num(config, "write_timeout_ms", cfg.write_timeout_ms) || !read_num(config, "linger_ms", cfg.linger_ms) ||
      !read_num(config, "io_uring", cfg.io_uring))
    return nullptr;
  uint32_t http2 = cfg.http2 ? 1 : 0;
  if (!read_num(config, "http2", http2) ||
      !read_num(config, "h2_max_concurrent_streams", cfg.h2.max_concurrent_streams) ||
      !read_num(config, "h2_initial_window", cfg.h2.initial_window) ||
      !read_num(config, "h2_max_control_frames", cfg.h2.max_control_frames) ||
      !read_num(config, "h2_reset_burst", cfg.h2.reset_burst))
    return nullptr;
  cfg.http2 = http2 != 0;
  if (cfg.h2.max_concurrent_streams == 0 || cfg.h2.initial_window > 0x7fffffff) {
    PyErr_SetString(PyExc_ValueError, "h2_max_concurrent_streams must be > 0, h2_initial_window < 2**31");
    return nullptr;
  }
  auto* self = reinterpret_cast<ServerObject*>(tp->tp_alloc(tp, 0));
  if (!self) return nullptr;
  self->engine = Py_NewRef(engine);
  try {
    self->server = new fs::Server(cfg, [e](const std::string& host, int port) {
      return std::unique_ptr<fs::ConnectionDispatcher>(new BridgeDispatcher(e, host, port));
    });
  } catch (const std::exception& ex) {
    Py_DECREF(self);
    PyErr_SetString(PyExc_OSError, ex.what());
    return nullptr;
  }
  offload_attach(e, self->server);  // the engine's hub (pool results, batch timers) in this epoll
  return reinterpret_cast<PyObject*>(self);
}

PyObject* server_listen(PyObject* o, PyObject* args, PyObject* kw) {
  auto* self = reinterpret_cast<ServerObject*>(o);
  static const char* names[] = {"host", "port", "reuse_port", "backlog", nullptr};
  const char* host;
  int port, reuse = 1, backlog = 1024;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "si|pi", const_cast<char**>(names), &host, &port, &reuse, &backlog))
    return nullptr;
  try {
    return PyLong_FromLong(self->server->listen(host, port, reuse, backlog));
  } catch (const std::exception& ex) {
    PyErr_SetString(PyExc_OSError, ex.what());
    return nullptr;
  }
}

PyObject* server_listen_fd(PyObject* o, PyObject* arg) {
  auto* self = reinterpret_cast<ServerObject*>(o);
  int fd = PyObject_AsFileDescriptor(arg);
  if (fd < 0) return nullptr;
  try {
    return PyLong_FromLong(self->server->listen_fd(fd));
  } catch (const std::exception& ex) {
    PyErr_SetString(PyExc_OSError, ex.what());
    return nullptr;
  }
}

// The --ssl-* options as keywords (uvicorn's names without the ssl_ prefix) into tls::Options.
bool parse_tls_options(PyObject* args, PyObject* kw, fasterapi::tls::Options& o) {
  static const char* names[] = {"certfile",  "keyfile", "password", "ca_certs",
                                "cert_reqs", "ciphers", "http2",    nullptr};
  const char *cert, *key = nullptr, *pw = nullptr, *ca = nullptr, *ciphers = nullptr;
  int http2 = 1;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "s|zzzizp", const_cast<char**>(names), &cert, &key, &pw, &ca, &o.cert_reqs,
                                   &ciphers, &http2))
    return false;
  o.http2 = http2 != 0;
  o.certfile = cert;
  o.keyfile = key ? key : "";
  o.password = pw ? pw : "";
  o.ca_certs = ca ? ca : "";
  o.ciphers = ciphers ? ciphers : "";
  return true;
}

// Loads a TLS context; on an operator mistake (a file, the password, the options) a ValueError
// with one line, on a build without TLS a RuntimeError.
std::shared_ptr<fasterapi::tls::Context> load_tls(PyObject* args, PyObject* kw) {
  fasterapi::tls::Options o;
  if (!parse_tls_options(args, kw, o)) return nullptr;
  if (!fasterapi::tls::available()) {
    PyErr_SetString(PyExc_RuntimeError, "this build of FasterAPI has no TLS: rebuild with libssl-dev installed");
    return nullptr;
  }
  try {
    return fasterapi::tls::make_context(o);
  } catch (const std::exception& ex) {
    PyErr_SetString(PyExc_ValueError, ex.what());
    return nullptr;
  }
}

PyObject* server_set_tls(PyObject* o, PyObject* args, PyObject* kw) {
  if (reinterpret_cast<ServerObject*>(o)->server->uses_io_uring()) {
    PyErr_SetString(PyExc_RuntimeError, "TLS is served by the epoll loop: create the Server without io_uring");
    return nullptr;
  }
  auto ctx = load_tls(args, kw);
  if (!ctx) return nullptr;
  reinterpret_cast<ServerObject*>(o)->server->set_tls(std::move(ctx));
  Py_RETURN_NONE;
}
PyObject* server_tls(PyObject* o, void*) { return PyBool_FromLong(reinterpret_cast<ServerObject*>(o)->server->tls()); }

PyObject* server_poll(PyObject* o, PyObject* args) {
  auto* self = reinterpret_cast<ServerObject*>(o);
  int timeout = 0;
  if (!PyArg_ParseTuple(args, "|i", &timeout)) return nullptr;
  int n = self->server->poll(timeout);
  if (PyErr_Occurred()) return nullptr;
  return PyLong_FromLong(n);
}

PyObject* server_sweep(PyObject* o, PyObject*) {
  reinterpret_cast<ServerObject*>(o)->server->sweep();
  publish_server_metrics(reinterpret_cast<ServerObject*>(o)->server->stats());  // cheap when metrics are off
  Py_RETURN_NONE;
}
PyObject* server_shutdown(PyObject* o, PyObject*) {
  reinterpret_cast<ServerObject*>(o)->server->begin_shutdown();
  Py_RETURN_NONE;
}
PyObject* server_close_all(PyObject* o, PyObject*) {
  reinterpret_cast<ServerObject*>(o)->server->close_all();
  Py_RETURN_NONE;
}
PyObject* server_fileno(PyObject* o, PyObject*) {
  return PyLong_FromLong(reinterpret_cast<ServerObject*>(o)->server->epoll_fd());
}
PyObject* server_loop(PyObject* o, void*) {
  return PyUnicode_FromString(reinterpret_cast<ServerObject*>(o)->server->uses_io_uring() ? "io_uring" : "epoll");
}
PyObject* server_connections(PyObject* o, void*) {
  return PyLong_FromSize_t(reinterpret_cast<ServerObject*>(o)->server->connections());
}
PyObject* server_listening(PyObject* o, void*) {
  return PyBool_FromLong(reinterpret_cast<ServerObject*>(o)->server->listening());
}
PyObject* server_stats(PyObject* o, void*) {
  const fs::Stats& s = reinterpret_cast<ServerObject*>(o)->server->stats();
  return Py_BuildValue("{sKsKsKsKsKsKsK}", "accepted", (unsigned long long)s.accepted, "refused",
                       (unsigned long long)s.refused, "closed", (unsigned long long)s.closed, "timeouts",
                       (unsigned long long)s.timeouts, "bytes_sent", (unsigned long long)s.bytes_sent, "ring_sends",
                       (unsigned long long)s.ring_sends, "ring_submits", (unsigned long long)s.ring_submits);
}

int server_traverse(PyObject* o, visitproc visit, void* arg) {
  Py_VISIT(Py_TYPE(o));
  Py_VISIT(reinterpret_cast<ServerObject*>(o)->engine);
  return 0;
}
void server_dealloc(PyObject* o) {
  auto* self = reinterpret_cast<ServerObject*>(o);
  PyTypeObject* tp = Py_TYPE(o);
  PyObject_GC_UnTrack(o);
  if (self->server && self->engine) offload_detach(reinterpret_cast<EngineObject*>(self->engine), self->server);
  delete self->server;
  Py_CLEAR(self->engine);
  tp->tp_free(o);
  Py_DECREF(tp);
}

PyMethodDef server_methods[] = {
    {"listen", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(boundary<server_listen>)),
     METH_VARARGS | METH_KEYWORDS, "listen(host, port, reuse_port=True, backlog=1024) -> bound port"},
    {"listen_fd", boundary<server_listen_fd>, METH_O,
     "listen_fd(fd) -> bound port (0: a unix socket): accept on a duplicate of an existing listening socket "
     "(an int or an object with fileno())"},
    {"poll", boundary<server_poll>, METH_VARARGS, "poll(timeout_ms=0) -> events handled"},
    {"sweep", boundary<server_sweep>, METH_NOARGS, "enforce deadlines"},
    {"begin_shutdown", boundary<server_shutdown>, METH_NOARGS, "stop accepting; close idle connections"},
    {"close_all", boundary<server_close_all>, METH_NOARGS, "close every connection now"},
    {"fileno", boundary<server_fileno>, METH_NOARGS, "the epoll or io_uring fd (readable when there is work)"},
    {"set_tls", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(boundary<server_set_tls>)),
     METH_VARARGS | METH_KEYWORDS,
     "set_tls(certfile, keyfile=None, password=None, ca_certs=None, cert_reqs=0, ciphers=None): TLS for the "
     "connections accepted from now on (again: a certificate reload; open connections keep theirs). "
     "ValueError with one line for a bad file, password or option"},
    {nullptr, nullptr, 0, nullptr}};
PyGetSetDef server_getset[] = {{"connections", boundary<server_connections>, nullptr, "open connections", nullptr},
                               {"listening", boundary<server_listening>, nullptr, "accepting connections", nullptr},
                               {"stats", boundary<server_stats>, nullptr, "counters", nullptr},
                               {"tls", boundary<server_tls>, nullptr, "new connections are TLS", nullptr},
                               {"loop", boundary<server_loop>, nullptr, "the backend: 'epoll' or 'io_uring'", nullptr},
                               {nullptr, nullptr, nullptr, nullptr, nullptr}};
PyType_Slot server_slots[] = {
    {Py_tp_new, reinterpret_cast<void*>(boundary<server_new>)},
    {Py_tp_dealloc, reinterpret_cast<void*>(boundary<server_dealloc>)},
    {Py_tp_traverse, reinterpret_cast<void*>(boundary<server_traverse>)},
    {Py_tp_methods, server_methods},
    {Py_tp_getset, server_getset},
    {Py_tp_doc,
     const_cast<char*>("Server(engine, config=None): the socket loop (epoll; io_uring with config['io_uring'] = 1)")},
    {0, nullptr}};

// ---- module ------------------------------------------------------------------------------------

PyObject* core_dumps(PyObject*, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  PyObject* def = nargs == 2 ? args[1] : nullptr;
  bool bad = nargs < 1 || nargs + nkw > 2;
  if (!bad && nkw == 1) {
    bad = PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0), "default") != 0;
    def = args[1];
  }
  if (bad) {
    PyErr_SetString(PyExc_TypeError, "dumps(obj, default=None)");
    return nullptr;
  }
  if (def == Py_None) def = nullptr;
  fh::Buffer out;
  if (write_json(args[0], out, def) < 0) return nullptr;
  return PyBytes_FromStringAndSize(out.data(), Py_ssize_t(out.size()));
}

PyObject* core_tls_available(PyObject*, PyObject*) { return PyBool_FromLong(fasterapi::tls::available()); }

PyObject* core_http2_available(PyObject*, PyObject*) { return PyBool_FromLong(fasterapi::http2::available()); }

PyObject* core_check_tls(PyObject*, PyObject* args, PyObject* kw) {
  if (!load_tls(args, kw)) return nullptr;
  Py_RETURN_NONE;
}

PyObject* core_uring_unavailable(PyObject*, PyObject*) {
  return PyUnicode_FromString(fasterapi::server::uring_unavailable().c_str());
}

PyMethodDef core_methods[] = {
    {"uring_unavailable", boundary<core_uring_unavailable>, METH_NOARGS,
     "uring_unavailable() -> str: why the io_uring loop cannot run here ('' : it can)"},
    {"tls_available", boundary<core_tls_available>, METH_NOARGS,
     "tls_available() -> bool: this build has TLS (OpenSSL)"},
    {"http2_available", boundary<core_http2_available>, METH_NOARGS,
     "http2_available() -> bool: this build has HTTP/2 (nghttp2)"},
    {"check_tls", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(boundary<core_check_tls>)),
     METH_VARARGS | METH_KEYWORDS,
     "check_tls(certfile, keyfile=None, password=None, ca_certs=None, cert_reqs=0, ciphers=None): load the "
     "options as set_tls() would, then drop them (the supervisor's check before its workers start)"},
    {"dumps", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(boundary<core_dumps>)),
     METH_FASTCALL | METH_KEYWORDS, "dumps(obj, default=None) -> bytes: the engine's JSON writer"},
    METRICS_METHODS{nullptr, nullptr, 0, nullptr}};

int core_exec(PyObject* m) {
  ModuleState* st = state_of(m);
  struct {
    PyType_Spec* spec;
    PyTypeObject** slot;
    const char* name;
  } types[] = {{&engine_spec, &st->engine_type, "Engine"},
               {&request_spec, &st->request_type, "RequestData"},
               {&connection_spec, &st->connection_type, "Connection"},
               {&server_spec, &st->server_type, "Server"},
               {&completion_spec, &st->completion_type, "Completion"},
               {&native_spec, &st->native_type, "NativeHandler"},
               {&websocket_link_spec, &st->websocket_type, "WebSocketLink"},
               {&stream_sink_spec, &st->stream_type, "StreamSink"},
               {&body_reader_spec, &st->body_reader_type, "BodyReader"}};
  for (auto& t : types) {
    PyObject* tp = PyType_FromModuleAndSpec(m, t.spec, nullptr);
    if (!tp) return -1;
    *t.slot = reinterpret_cast<PyTypeObject*>(tp);
    if (PyModule_AddObjectRef(m, t.name, tp) < 0) return -1;
  }
  if (offload_add_to_type(st->engine_type) < 0) return -1;
  st->required = PyObject_CallNoArgs(reinterpret_cast<PyObject*>(&PyBaseObject_Type));
  if (!st->required || PyModule_AddObjectRef(m, "REQUIRED", st->required) < 0) return -1;
  st->str_dependency_overrides = PyUnicode_InternFromString("dependency_overrides");
  if (!st->str_dependency_overrides) return -1;
  st->str_app = PyUnicode_InternFromString("app");
  if (!st->str_app) return -1;
#ifdef FASTERAPI_BENCH
  if (PyModule_AddFunctions(m, bench_methods) < 0) return -1;  // the bench build only (CMake FASTERAPI_BENCH)
#endif
  return 0;
}

int core_traverse(PyObject* m, visitproc visit, void* arg) {
  ModuleState* st = state_of(m);
  if (!st) return 0;
  Py_VISIT(st->engine_type);
  Py_VISIT(st->request_type);
  Py_VISIT(st->connection_type);
  Py_VISIT(st->server_type);
  Py_VISIT(st->completion_type);
  Py_VISIT(st->native_type);
  Py_VISIT(st->websocket_type);
  Py_VISIT(st->stream_type);
  Py_VISIT(st->body_reader_type);
  Py_VISIT(st->required);
  Py_VISIT(st->str_dependency_overrides);
  Py_VISIT(st->str_app);
  return 0;
}
int core_clear(PyObject* m) {
  ModuleState* st = state_of(m);
  if (!st) return 0;
  Py_CLEAR(st->engine_type);
  Py_CLEAR(st->request_type);
  Py_CLEAR(st->connection_type);
  Py_CLEAR(st->server_type);
  Py_CLEAR(st->completion_type);
  Py_CLEAR(st->native_type);
  Py_CLEAR(st->websocket_type);
  Py_CLEAR(st->stream_type);
  Py_CLEAR(st->body_reader_type);
  Py_CLEAR(st->required);
  Py_CLEAR(st->str_dependency_overrides);
  Py_CLEAR(st->str_app);
  return 0;
}
void core_free(void* m) { core_clear(static_cast<PyObject*>(m)); }

PyModuleDef_Slot core_slots[] = {{Py_mod_exec, reinterpret_cast<void*>(boundary<core_exec>)},
#if PY_VERSION_HEX >= 0x030C0000
                                 {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#if PY_VERSION_HEX >= 0x030D0000
                                 {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
                                 {0, nullptr}};

}  // namespace

PyType_Spec engine_spec = {"fasterapi._core.Engine", sizeof(EngineObject), 0,
                           Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC, engine_slots};
PyType_Spec connection_spec = {"fasterapi._core.Connection", sizeof(ConnectionObject), 0,
                               Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC, conn_slots};
PyType_Spec server_spec = {"fasterapi._core.Server", sizeof(ServerObject), 0, Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
                           server_slots};

PyModuleDef core_module = {PyModuleDef_HEAD_INIT, "_core",      "FasterAPI native engine",
                           sizeof(ModuleState),   core_methods, core_slots,
                           core_traverse,         core_clear,   core_free};

}  // namespace fasterapi::bridge

PyMODINIT_FUNC PyInit__core(void) { return PyModuleDef_Init(&fb::core_module); }
