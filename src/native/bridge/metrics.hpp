// The Python face of server/metrics.hpp (_core.metrics_*) and the engine's hooks into it.
#pragma once
#include <string>
#include <vector>

#include "bridge/boundary.hpp"
#include "bridge/state.hpp"
#include "server/loop.hpp"

namespace fasterapi::bridge {

// add_route's hook: the label of compiled route `index`.
void note_route_label(int index, const std::vector<std::string>& methods, const char* path);
// Server.sweep's hook: the socket loop's totals into this worker's slot.
void publish_server_metrics(const server::Stats& stats);

PyObject* core_metrics_create(PyObject*, PyObject* args);
PyObject* core_metrics_attach(PyObject*, PyObject* args);
PyObject* core_metrics_detach(PyObject*, PyObject*);
PyObject* core_metrics_restart(PyObject*, PyObject*);
PyObject* core_metrics_down(PyObject*, PyObject* args);
PyObject* core_metrics_render(PyObject*, PyObject*);
PyObject* core_set_default_headers(PyObject*, PyObject* args, PyObject* kw);

}  // namespace fasterapi::bridge

#define METRICS_METHODS                                                                                      \
  {"metrics_create", fasterapi::bridge::boundary<fasterapi::bridge::core_metrics_create>, METH_VARARGS,      \
   "metrics_create(workers): the shared counters region, made by the supervisor before it forks"},           \
      {"metrics_attach", fasterapi::bridge::boundary<fasterapi::bridge::core_metrics_attach>, METH_VARARGS,  \
       "metrics_attach(worker, path): count into slot `worker` and answer GET `path` with the metrics"},     \
      {"metrics_detach", fasterapi::bridge::boundary<fasterapi::bridge::core_metrics_detach>, METH_NOARGS,   \
       "metrics_detach(): stop counting"},                                                                   \
      {"metrics_restart", fasterapi::bridge::boundary<fasterapi::bridge::core_metrics_restart>, METH_NOARGS, \
       "metrics_restart(): the supervisor replaced a worker"},                                               \
      {"metrics_down", fasterapi::bridge::boundary<fasterapi::bridge::core_metrics_down>, METH_VARARGS,      \
       "metrics_down(worker): the worker of this slot is gone (its gauges go to 0)"},                        \
      {"metrics_render", fasterapi::bridge::boundary<fasterapi::bridge::core_metrics_render>, METH_NOARGS,   \
       "metrics_render() -> bytes: the Prometheus text of every slot"},                                      \
      {"set_default_headers",                                                                                \
       reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(                                       \
           fasterapi::bridge::boundary<fasterapi::bridge::core_set_default_headers>)),                       \
       METH_VARARGS | METH_KEYWORDS,                                                                         \
       "set_default_headers(date=True, server=True): the Date and Server lines of every response head"},
