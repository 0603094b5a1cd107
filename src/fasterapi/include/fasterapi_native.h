/* fasterapi_native.h: the C ABI for native route handlers (FasterAPI).
 *
 * A native handler is a plain C (or C++) function in a shared library you build yourself:
 *
 *     #include <fasterapi_native.h>
 *
 *     FASTERAPI_HANDLER(hello) {   // int hello(const fa_request* req, fa_response* res)
 *       fa_set_status(res, 200);
 *       fa_add_header_cstr(res, "Content-Type", "application/json");
 *       fa_write_cstr(res, "{\"message\":\"Hello, World!\"}");
 *       return 0;
 *     }
 *
 * and register it next to your Python routes:
 *
 *     app.add_native_route("GET", "/hello", library="./libhello.so", symbol="hello")
 *
 * The engine matches the route in the same router as Python routes and calls the function on the
 * server's loop thread with a read-only view of the request. No Python object is created and no
 * Python API is called on that path. The views are valid only during the call.
 *
 * Writing the response: set the status and headers first, then the body (fa_write or
 * fa_body_reserve/fa_body_commit, which write straight into the connection's output buffer).
 * The first body write freezes the head: fa_set_status/fa_add_header return -1 afterwards.
 * The engine adds Date, Server, Content-Length and Connection; Content-Length, Transfer-Encoding
 * and Connection headers given by the handler are ignored. For HEAD requests the body is dropped
 * (the Content-Length of the body you wrote is kept); 1xx/204/304 responses have no body.
 *
 * Return 0 when the response is complete, anything else for a 500 (whatever was written is
 * discarded). Do not throw C++ exceptions out of a handler (they are caught and become a 500).
 * Handlers run on the loop thread: a handler that blocks stalls every connection of its worker.
 *
 * Building: compile with -fPIC into a shared library; the include directory is
 * `python -c "import fasterapi; print(fasterapi.get_include())"`. No library to link against.
 */
#ifndef FASTERAPI_NATIVE_H
#define FASTERAPI_NATIVE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FASTERAPI_NATIVE_ABI_VERSION 1u

#ifdef __cplusplus
#define FA_EXTERN_C extern "C"
#define FA_ABI_STORAGE extern "C"
#else
#define FA_EXTERN_C
#define FA_ABI_STORAGE
#endif

#if defined(__GNUC__) || defined(__clang__)
#define FA_EXPORT __attribute__((visibility("default")))
#define FA_WEAK __attribute__((weak))
#else
#define FA_EXPORT
#define FA_WEAK
#endif

/* Every library including this header exports the ABI version it was built against; the engine
 * refuses a library whose version differs. (A weak definition: one per library however many
 * translation units include the header.) */
#ifndef FASTERAPI_NATIVE_NO_ABI_SYMBOL
FA_ABI_STORAGE FA_EXPORT FA_WEAK const uint32_t fasterapi_native_abi_version = FASTERAPI_NATIVE_ABI_VERSION;
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* A byte string that is not NUL-terminated. */
typedef struct fa_str {
  const char* data;
  size_t size;
} fa_str;

typedef struct fa_header {
  fa_str name;  /* request headers: as received (case preserved); compare case-insensitively */
  fa_str value; /* leading/trailing whitespace stripped */
} fa_header;

typedef struct fa_request {
  uint32_t abi_version;    /* FASTERAPI_NATIVE_ABI_VERSION of the engine */
  uint32_t http_minor;     /* HTTP/1.<minor>: 0 or 1 */
  fa_str method;           /* "GET", ... (a HEAD request shows "HEAD") */
  fa_str path;             /* percent-decoded path */
  fa_str raw_path;         /* the path as received (before '?') */
  fa_str query;            /* raw query string, without '?', not decoded */
  const fa_header* headers;
  size_t num_headers;
  fa_str body;             /* complete body (chunked bodies are decoded) */
  const fa_header* path_params; /* {name} captures of the route template, percent-decoded */
  size_t num_path_params;
  fa_str client_host;      /* peer address ("" when unknown) */
  int32_t client_port;
  uint32_t reserved;
} fa_request;

typedef struct fa_response fa_response;

/* The engine's response writer, reached through the response (no symbols to link against). */
typedef struct fa_response_api {
  uint32_t size; /* sizeof(fa_response_api) of the engine */
  int (*set_status)(fa_response* res, int status);
  int (*add_header)(fa_response* res, const char* name, size_t name_len, const char* value, size_t value_len);
  int (*write)(fa_response* res, const char* data, size_t len);
  char* (*body_reserve)(fa_response* res, size_t n);
  int (*body_commit)(fa_response* res, size_t n);
} fa_response_api;

struct fa_response {
  const fa_response_api* api;
  void* engine_private;
};

/* The handler signature: 0 for success, anything else for a 500. */
typedef int (*fa_handler)(const fa_request* req, fa_response* res);

#define FASTERAPI_HANDLER(name) FA_EXTERN_C FA_EXPORT int name(const fa_request* req, fa_response* res)

/* ---- response helpers (0 on success, -1 on a bad argument or when the head is frozen) ---- */

static inline int fa_set_status(fa_response* res, int status) { return res->api->set_status(res, status); }

/* Header names must be RFC 9110 tokens; values must not contain CR, LF or NUL. */
static inline int fa_add_header(fa_response* res, const char* name, size_t name_len, const char* value,
                                size_t value_len) {
  return res->api->add_header(res, name, name_len, value, value_len);
}
static inline int fa_add_header_cstr(fa_response* res, const char* name, const char* value) {
  return res->api->add_header(res, name, strlen(name), value, strlen(value));
}

/* Appends body bytes. */
static inline int fa_write(fa_response* res, const char* data, size_t len) { return res->api->write(res, data, len); }
static inline int fa_write_cstr(fa_response* res, const char* s) { return res->api->write(res, s, strlen(s)); }

/* Direct body writing: a pointer to at least n writable bytes in the output buffer (NULL on
 * failure), valid until the next writer call; then fa_body_commit(res, k) with k <= n. */
static inline char* fa_body_reserve(fa_response* res, size_t n) { return res->api->body_reserve(res, n); }
static inline int fa_body_commit(fa_response* res, size_t n) { return res->api->body_commit(res, n); }

/* ---- request helpers ---- */

static inline int fa_str_eq(fa_str s, const char* lit) {
  size_t n = strlen(lit);
  return s.size == n && (n == 0 || memcmp(s.data, lit, n) == 0);
}

static inline int fa__ieq(fa_str s, const char* lit, size_t n) {
  size_t i;
  if (s.size != n) return 0;
  for (i = 0; i < n; ++i) {
    char a = s.data[i], b = lit[i];
    if (a >= 'A' && a <= 'Z') a = (char)(a + 32);
    if (b >= 'A' && b <= 'Z') b = (char)(b + 32);
    if (a != b) return 0;
  }
  return 1;
}

/* First request header with this name (case-insensitive); {NULL, 0} when absent. */
static inline fa_str fa_request_header(const fa_request* req, const char* name) {
  size_t i, n = strlen(name);
  fa_str none = {NULL, 0};
  for (i = 0; i < req->num_headers; ++i)
    if (fa__ieq(req->headers[i].name, name, n)) return req->headers[i].value;
  return none;
}

/* A path parameter by name; {NULL, 0} when absent. */
static inline fa_str fa_path_param(const fa_request* req, const char* name) {
  size_t i;
  fa_str none = {NULL, 0};
  for (i = 0; i < req->num_path_params; ++i)
    if (fa_str_eq(req->path_params[i].name, name)) return req->path_params[i].value;
  return none;
}

/* The raw (not percent-decoded) value of the last `key=` in the query string; returns 1 when
 * found (value may be empty), 0 when absent. */
static inline int fa_query_param(const fa_request* req, const char* key, fa_str* value) {
  size_t klen = strlen(key), pos = 0;
  int found = 0;
  const char* q = req->query.data;
  size_t n = req->query.size;
  while (pos <= n && n > 0) {
    size_t end = pos;
    while (end < n && q[end] != '&') ++end;
    if (end - pos >= klen && memcmp(q + pos, key, klen) == 0 &&
        (end - pos == klen || q[pos + klen] == '=')) {
      size_t vstart = pos + klen + (end - pos > klen ? 1 : 0);
      value->data = q + vstart;
      value->size = end - vstart;
      found = 1;
    }
    pos = end + 1;
  }
  return found;
}

#ifdef __cplusplus
}
#endif

#endif /* FASTERAPI_NATIVE_H */
