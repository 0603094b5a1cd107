// The engine: routes, their compiled plans, and the Dispatcher that runs them for a connection.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bridge/state.hpp"
#include "http/connection.hpp"
#include "router/router.hpp"
#include "server/link.hpp"
#include "server/metrics.hpp"

namespace fasterapi::bridge {

enum class ParamSource { Path, Query, Header, Cookie };
enum class ParamKind { Int, Float, Str, Bool };
struct StaticResponse;  // native_route.hpp
struct PerfState;       // perf.hpp
struct Ctx;             // one request on the Python side (engine.cpp)
struct PlanArgs;        // a plan's call arguments (engine.cpp)

struct PlanParam {
  std::string key;  // path parameter name, query alias, lower-case header name or cookie name
  ParamSource source;
  ParamKind kind;
  PyObject* default_value;  // strong ref; nullptr when required
};

struct Route {
  PyObject* handler = nullptr;  // slow path: handler(RequestData) -> Response | awaitable
  bool has_plan = false;
  PyObject* endpoint = nullptr;  // fast path
  PyObject* kwnames = nullptr;   // tuple: params then body
  PyObject* body_validator = nullptr;
  bool is_async = false;
  int status = 200;
  std::vector<PlanParam> params;
  int64_t body_limit = -1;
  bool is_static = false;                                 // constant route: its first response replayed
  std::shared_ptr<const StaticResponse> static_response;  // set once captured (native_route.hpp)
  PyObject* native = nullptr;                             // _core.NativeHandler: served without Python
  PyObject* guard = nullptr;   // an app: its dependency_overrides non-empty -> the Python path
  bool json_bytes = false;     // the plan's call returns the JSON body as bytes (response_model)
  bool wants_request = false;  // the plan's call takes request_data= (the RequestData), last
  // (content_type_line: bytes, finish) or null: a str result is the body, written with this
  // Content-Type line (a PlainTextResponse/HTMLResponse route); anything else goes to finish(result),
  // which returns the response FastAPI would make of it (or raises).
  PyObject* text = nullptr;
};

struct EngineObject {
  PyObject_HEAD ModuleState* st;
  router::Router* router;
  std::vector<Route>* routes;
  PyObject* app_handler;
  PyObject* response_type;
  PyObject* json_default;
  PyObject* error_handler;
  PyObject* resume;      // fasterapi._runtime.resume(coro, yielded, done)
  PyObject* access_log;  // None or callable(client, method, path, status)
  http::Limits* limits;
  int python_routing;
  // Requests with a body that go to app_handler are dispatched at head-complete and read their
  // body through RequestData.body_reader (bridge/body_reader.hpp) instead of RequestData.body.
  char stream_bodies;
  PyObject* weakrefs;
  struct Offload* offload;      // blocking pool, batch collectors, hub (offload.hpp); null until used
  PerfState* perf;              // switches and counters (perf.hpp)
  PyObject* websocket_handler;  // None, or callable(RequestData, WebSocketLink) (bridge/websocket.hpp)
  // With python_routing: route in Python only when one of these (lower-case) headers is present;
  // empty: always. A middleware that leaves requests without its header untouched (CORS: origin,
  // GZip: accept-encoding) keeps the other requests on the native routes and fast plans.
  std::vector<std::string>* python_routing_headers;
  // Header lines ("name: value\r\n") the engine adds to every JSON response of a compiled route:
  // what the app's recognised middleware adds to a response for a request it lets through
  // untouched (CORS without an Origin: `vary: Origin`). Responses made in Python are edited there.
  std::string* compiled_headers;
  // None: a handler's coroutine takes its first step inline (continued as a task only if it
  // awaits). Else task_starter(coro, done) runs it as an asyncio task from its first step, so
  // code that needs a current task (anyio, asyncio.timeout, httpx.AsyncClient) works there too.
  PyObject* task_starter;
  // With a task_starter: None, or (get_running_loop or the engine's one loop, enter_task,
  // leave_task, acquire_worker, release_worker, handoff[, asyncio's current-task dict or None: the two edits enter_task
  // and leave_task make, made here without calling them]) (fasterapi._runtime.task_hooks): the first step of a handler
  // taken here, under the request's context, as a parked worker task (engine.cpp first_step); the task_starter only
  // where that cannot be (no running loop, already inside a task).
  PyObject* task_hooks;
  // The idle worker first_step lends its identity from, its task and its loop (or nullptr).
  PyObject* step_worker;
  PyObject* step_task;
  PyObject* step_loop;
};

// One per connection: owns scratch space for the request in flight.
class BridgeDispatcher final : public server::ConnectionDispatcher {
 public:
  BridgeDispatcher(EngineObject* engine, std::string host, int port);
  ~BridgeDispatcher() override;
  uint64_t body_limit(const http::Request& head) override;
  bool stream_body(const http::Request& head) override;
  http::HandleResult handle(const http::Request& req, http::Buffer& out) override;
  void response_end(int status) override { timer_.end(status); }

  EngineObject* engine;  // strong ref
  std::string client_host;
  int client_port;

 private:
  // The stages of serve(), in order (engine.cpp; inline: each is called from one place there).
  http::HandleResult serve(const http::Request& req, http::Buffer& out);
  inline bool serve_without_python(const Route& r, const http::Request& req, http::Buffer& out);
  inline http::HandleResult serve_with_python(Route* r, const http::Request& req, http::Buffer& out);
  inline http::HandleResult call_app_handler(Ctx& c, const http::Request& req, http::Buffer& out);
  inline http::HandleResult run_route(Ctx& c, Route& r, const http::Request& req, http::Buffer& out);
  inline std::optional<http::HandleResult> join_batch(Ctx& c, const http::Request& req);
  inline std::optional<http::HandleResult> run_plan(Ctx& c, Route& r, const http::Request& req, http::Buffer& out);
  [[gnu::always_inline]] inline bool plan_arguments(Ctx& c, const Route& r, const http::Request& req, PlanArgs& a);
  [[gnu::always_inline]] inline PyObject* param_value(const PlanParam& p, const http::Request& req);
  [[gnu::always_inline]] inline std::optional<std::string_view> param_text(const PlanParam& p, const http::Request& req,
                                                                           bool& usable);
  inline http::HandleResult call_route_handler(Ctx& c, Route& r, http::Buffer& out);
  void log_access(const http::Request& req, const http::Buffer& out, size_t from);
  bool route(const http::Request& req);
  bool attach_body_reader(PyObject* request_data);
  // Metrics on: answers a scrape of the metrics path (true), else starts the request's timer.
  bool metrics_begin(const http::Request& req, http::Buffer& out);  // bridge/metrics.cpp
  server::metrics::RequestTimer timer_;
  std::string path_;  // percent-decoded path of the request in flight
  router::Match match_;
  bool routed_ = false;
  std::string scratch_;
};

// Writes a handler's result (Response instance or JSON-able value) as a complete response.
// Returns 0, or -1 with a Python exception set (out is left as it was).
// `conn` is how the connection continues: close it, keep it (HTTP/1.0 keep-alive must be said), or
// nothing to say (HTTP/1.1 default).
enum class ConnHeader { None, Close, KeepAlive };
int write_result(EngineObject* e, PyObject* result, int default_status, bool head_only, ConnHeader conn,
                 http::Buffer& out);
// A view of a bytes, str (UTF-8) or bytearray object; false with TypeError set otherwise.
bool as_bytes(PyObject* o, std::string_view& sv);

// 500 {"detail":"Internal Server Error"}.
void write_500(http::Buffer& out, ConnHeader conn);
// 503 {"detail":"Service Unavailable"} with "Connection: close" (out of memory for this request).
void write_503_close(http::Buffer& out);

}  // namespace fasterapi::bridge
