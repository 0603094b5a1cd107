// Module state shared by the bridge's types: no global PyObject*, so the module can be loaded
// once per (sub-)interpreter.
#pragma once
#define PY_SSIZE_T_CLEAN
#include <Python.h>

namespace fasterapi::bridge {

struct ModuleState {
  PyTypeObject* engine_type;
  PyTypeObject* request_type;
  PyTypeObject* connection_type;
  PyTypeObject* server_type;
  PyTypeObject* completion_type;
  PyTypeObject* native_type;           // NativeHandler (native_route.cpp)
  PyTypeObject* websocket_type;        // WebSocketLink (websocket.cpp)
  PyTypeObject* stream_type;           // StreamSink (stream.cpp)
  PyTypeObject* body_reader_type;      // BodyReader (body_reader.cpp)
  PyObject* required;                  // the _core.REQUIRED sentinel
  PyObject* str_dependency_overrides;  // interned "dependency_overrides"
  PyObject* str_app;                   // interned "app" (a compiled route's guard reads route.app)
};

extern PyModuleDef core_module;

inline ModuleState* state_of(PyObject* module) { return static_cast<ModuleState*>(PyModule_GetState(module)); }
inline ModuleState* state_from_type(PyTypeObject* tp) {
  PyObject* m = PyType_GetModuleByDef(tp, &core_module);
  return m ? state_of(m) : nullptr;
}

// Type specs defined in their own files, created in module exec.
extern PyType_Spec engine_spec;
extern PyType_Spec request_spec;
extern PyType_Spec connection_spec;
extern PyType_Spec server_spec;
extern PyType_Spec completion_spec;
extern PyType_Spec native_spec;
extern PyType_Spec websocket_link_spec;
extern PyType_Spec stream_sink_spec;
extern PyType_Spec body_reader_spec;
// Benchmark entry points (bench.cpp), added to the module in exec.
extern PyMethodDef bench_methods[];

}  // namespace fasterapi::bridge
