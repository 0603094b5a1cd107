#include "bridge/metrics.hpp"

#include "bridge/engine.hpp"
#include "http/response.hpp"
#include "server/metrics.hpp"

namespace fasterapi::bridge {

namespace m = server::metrics;

void note_route_label(int index, const std::vector<std::string>& methods, const char* path) {
  std::string joined;
  for (const std::string& meth : methods) {
    if (!joined.empty()) joined += ',';
    joined += meth;
  }
  m::note_route(index, joined, path);
}

void publish_server_metrics(const server::Stats& s) {
  if (m::enabled())
    m::publish_server(s.accepted, s.closed, s.bytes_received, s.bytes_sent, s.ring_sends, s.ring_submits);
}

bool BridgeDispatcher::metrics_begin(const http::Request& req, http::Buffer& out) {
  if (!m::is_scrape(req.path)) {
    timer_.begin(match_.kind == router::Match::Found ? match_.route : -1);
    return false;
  }
  // The engine answers the metrics path itself, before the app's routes (it shadows them; the CLI
  // refuses an app with a route at that path). Scrapes are not counted.
  if (req.method != "GET" && req.method != "HEAD") {
    http::write_response(out, 405, "application/json",
                         req.keep_alive && req.version_minor == 0 ? "Allow: GET, HEAD\r\nConnection: keep-alive\r\n"
                                                                  : "Allow: GET, HEAD\r\n",
                         R"({"detail":"Method Not Allowed"})", !req.keep_alive, req.is_head);
    return true;
  }
  const std::string body = m::render();
  // An HTTP/1.0 client keeps the connection only when told so (HTTP/1.1's default needs no line).
  const std::string_view conn = req.keep_alive && req.version_minor == 0 ? "Connection: keep-alive\r\n" : "";
  http::write_response(out, 200, m::kContentType, conn, body, !req.keep_alive, req.is_head);
  return true;
}

PyObject* core_metrics_create(PyObject*, PyObject* args) {
  int workers;
  if (!PyArg_ParseTuple(args, "i", &workers)) return nullptr;
  if (workers < 1 || workers > m::kMaxWorkers) {
    PyErr_Format(PyExc_ValueError, "workers must be within 1..%d", m::kMaxWorkers);
    return nullptr;
  }
  if (!m::create(workers)) return PyErr_SetFromErrno(PyExc_OSError);
  Py_RETURN_NONE;
}

PyObject* core_metrics_attach(PyObject*, PyObject* args) {
  int worker;
  const char* path;
  if (!PyArg_ParseTuple(args, "is", &worker, &path)) return nullptr;
  if (path[0] != '/') {
    PyErr_SetString(PyExc_ValueError, "the metrics path must start with '/'");
    return nullptr;
  }
  if (!m::attach(worker, path)) {
    PyErr_SetString(PyExc_ValueError, "no such metrics slot (metrics_create(workers) first)");
    return nullptr;
  }
  Py_RETURN_NONE;
}

PyObject* core_metrics_detach(PyObject*, PyObject*) {
  m::detach();
  Py_RETURN_NONE;
}

PyObject* core_metrics_restart(PyObject*, PyObject*) {
  m::note_restart();
  Py_RETURN_NONE;
}

PyObject* core_metrics_down(PyObject*, PyObject* args) {
  int worker;
  if (!PyArg_ParseTuple(args, "i", &worker)) return nullptr;
  m::mark_down(worker);
  Py_RETURN_NONE;
}

PyObject* core_metrics_render(PyObject*, PyObject*) {
  const std::string text = m::render();
  return PyBytes_FromStringAndSize(text.data(), Py_ssize_t(text.size()));
}

PyObject* core_set_default_headers(PyObject*, PyObject* args, PyObject* kw) {
  static const char* names[] = {"date", "server", nullptr};
  int date = 1, server = 1;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "|pp", const_cast<char**>(names), &date, &server)) return nullptr;
  http::set_default_headers(date, server);
  Py_RETURN_NONE;
}

}  // namespace fasterapi::bridge
