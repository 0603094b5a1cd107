// Native routes: handlers in user-built shared libraries (the C ABI of fasterapi_native.h) and
// constant routes (a Python handler's response rendered once and replayed). Both are served by
// the engine without calling into Python.
#pragma once
#include <memory>
#include <string>
#include <string_view>

#include "bridge/engine.hpp"
#define FASTERAPI_NATIVE_NO_ABI_SYMBOL
#include "fasterapi_native.h"

namespace fasterapi::bridge {

// _core.NativeHandler(library, symbol, release_gil=False): a loaded handler. It owns the dlopen
// handle; routes and the Python layer hold references to it.
struct NativeHandlerObject {
  PyObject_HEAD void* dl;
  fa_handler fn;
  int release_gil;
  PyObject* library;
  PyObject* symbol;
};
extern PyType_Spec native_spec;

// Writes the complete response of `h` for this request into `out` (a 500 when the handler fails).
// No Python API is used unless h->release_gil (then only to release and retake the GIL).
void run_native(NativeHandlerObject* h, const http::Request& req, std::string_view path, const router::Match& match,
                const std::string& client_host, int client_port, ConnHeader conn, http::Buffer& out);

// A constant route's response: everything but the status line's neighbours that change per
// request (Date, Connection). Written as status_line + Date/Server + [Connection] + rest.
struct StaticResponse {
  std::string status_line;  // "HTTP/1.1 200 OK\r\n"
  std::string rest;         // the other header lines, the blank line, then the body
  size_t body_offset = 0;   // where the body starts in `rest` (HEAD stops here)
  int status = 200;         // of status_line
};

// Serves a captured constant response.
void write_static(const StaticResponse& s, bool head_only, ConnHeader conn, http::Buffer& out);
// Captures the response just written to out[from:] (by write_result, for a GET with no Connection
// header) as a constant response; nullptr when it cannot be replayed (not 2xx/3xx, unexpected layout).
std::shared_ptr<const StaticResponse> capture_static(const http::Buffer& out, size_t from);

}  // namespace fasterapi::bridge
