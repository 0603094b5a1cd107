// Work that leaves the loop thread and comes back: the native blocking-handler pool and the
// adaptive micro-batch collectors (one per batch route).
//
//   blocking route ─► WorkerPool (server/pool.hpp): N C++ threads, each takes the GIL only to run
//                     the handler; the result returns through an MPSC ring + eventfd.
//   batch route    ─► Batcher: requests from every connection queue here (each connection Pending);
//                     a batch leaves when max_size is reached or the oldest waited max_wait_ms
//                     (a timerfd), runs once (def: on the pool; async def: on the loop), and each
//                     result goes back to its own connection.
//
// The engine's hub is one epoll fd holding the pool's eventfd and the timerfd. A _core.Server
// watches it in its own epoll (Server::watch); an in-memory connection (TestClient) has the
// running asyncio loop watch it (fasterapi._runtime.watch_hub). Everything here runs on the loop
// thread with the GIL, except the pool's workers.
#pragma once
#include "bridge/engine.hpp"

namespace fasterapi::server {
class Server;
}

namespace fasterapi::bridge {

// A request whose response is written later (engine.cpp owns its layout: the request's context,
// a RequestData copy, the connection link).
struct Deferred;
// Materializes what the request view will no longer provide (engine.cpp).
// Finish it on the loop thread: `value` is a new reference to the handler's result, or nullptr
// with a Python exception set (answered by the app's error handler). `status` > 0 replaces the
// route's status for a JSON value. A connection that went away drops the answer. Consumes `d`.
void deferred_finish(Deferred* d, PyObject* value, int status = 0);
bool deferred_alive(const Deferred* d);  // is the client still there?
void deferred_free(Deferred* d);         // drop without answering

enum class RouteKind : uint8_t { Plain = 0, Blocking = 1, Batch = 2 };

struct Offload;
RouteKind offload_kind(EngineObject* e, int route);
// Makes sure the hub is watched (and the pool started when need_pool); false (reported as
// unraisable) when that failed: the caller then runs the request the ordinary way.
bool offload_ready(EngineObject* e, bool need_pool);
// A blocking fast-plan route: endpoint(**kwnames) runs on the pool. Steals the n argument
// references and `d`. Always Pending (call offload_ready first).
http::HandleResult offload_blocking(EngineObject* e, PyObject* endpoint, PyObject** args, size_t n, PyObject* kwnames,
                                    Deferred* d);
// A handler returned fasterapi._runtime.Offload(call, then)?
bool offload_is_marker(EngineObject* e, PyObject* obj);
// call() runs on the pool, then(result, exc) on the loop; its value answers `d`. Steals the
// marker and `d` (call offload_ready first).
void offload_then(EngineObject* e, PyObject* marker, Deferred* d);
// A batch route: the validated item (new reference), or nullptr (no exception set) when the body
// must go to the Python handler instead (not JSON, invalid: its 422 comes from there).
PyObject* batch_validate(EngineObject* e, int route, const http::Request& req);
// Queues the item (stolen) with its request (stolen). Always Pending (call offload_ready first).
http::HandleResult batch_enqueue(EngineObject* e, int route, PyObject* item, Deferred* d);

// The socket loop watches the hub while it serves this engine.
void offload_attach(EngineObject* e, server::Server* s);
void offload_detach(EngineObject* e, server::Server* s);

// Engine lifecycle (module.cpp): GC support and teardown (stops and joins the pool).
int offload_traverse(EngineObject* e, visitproc visit, void* arg);
void offload_clear(EngineObject* e);
void offload_free(EngineObject* e);
// Adds the Python-facing methods and attributes to the Engine type (module exec).
int offload_add_to_type(PyTypeObject* engine_type);

}  // namespace fasterapi::bridge
