// Native route handlers for FasterAPI (see src/fasterapi/include/fasterapi_native.h).
//
//   cmake -S examples/native -B build/native-example && cmake --build build/native-example
//   app.add_native_route("GET", "/native/hello", library="build/native-example/libfast.so", symbol="hello")
//
// Each handler gets a read-only view of the request and writes its response through `res`;
// none of them touches Python.
#include <fasterapi_native.h>

#include <charconv>
#include <cstring>
#include <string>

namespace {

// Appends s as JSON string contents (quotes and backslashes escaped, control bytes as \u00XX).
void append_json_string(std::string& out, fa_str s) {
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < s.size; ++i) {
    unsigned char c = static_cast<unsigned char>(s.data[i]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(char(c));
    } else if (c < 0x20) {
      out += "\\u00";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    } else {
      out.push_back(char(c));
    }
  }
}

}  // namespace

// GET /native/hello -> {"message":"Hello, World!"}
FASTERAPI_HANDLER(hello) {
  (void)req;
  static const char body[] = "{\"message\":\"Hello, World!\"}";
  fa_set_status(res, 200);
  fa_add_header_cstr(res, "Content-Type", "application/json");
  return fa_write(res, body, sizeof body - 1);
}

// GET /native/items/{item_id}?q=... -> {"item_id":<int>,"q":"..."|null}; 422-like error for a
// non-integer id (the handler decides its own errors).
FASTERAPI_HANDLER(item) {
  fa_str id = fa_path_param(req, "item_id");
  long long value = 0;
  auto [p, ec] = std::from_chars(id.data, id.data + id.size, value);
  fa_add_header_cstr(res, "Content-Type", "application/json");
  if (id.size == 0 || ec != std::errc() || p != id.data + id.size) {
    fa_set_status(res, 422);
    return fa_write_cstr(res, "{\"detail\":\"item_id must be an integer\"}");
  }
  std::string out = "{\"item_id\":" + std::to_string(value) + ",\"q\":";
  fa_str q;
  if (fa_query_param(req, "q", &q)) {
    out.push_back('"');
    append_json_string(out, q);
    out.push_back('"');
  } else {
    out += "null";
  }
  out.push_back('}');
  return fa_write(res, out.data(), out.size());
}

// POST /native/echo -> the request body back, with the request's Content-Type, written straight
// into the output buffer; X-Method and X-Header-Count describe the request.
FASTERAPI_HANDLER(echo) {
  fa_str ct = fa_request_header(req, "content-type");
  if (ct.data) fa_add_header(res, "Content-Type", 12, ct.data, ct.size);
  fa_add_header(res, "X-Method", 8, req->method.data, req->method.size);
  std::string count = std::to_string(req->num_headers);
  fa_add_header(res, "X-Header-Count", 14, count.data(), count.size());
  char* dst = fa_body_reserve(res, req->body.size);
  if (!dst) return 1;
  if (req->body.size) std::memcpy(dst, req->body.data, req->body.size);
  return fa_body_commit(res, req->body.size);
}

// A response with a header the engine must refuse (CR/LF): add_header returns -1, and the handler
// reports it by failing, which is a 500.
FASTERAPI_HANDLER(bad_header) {
  (void)req;
  if (fa_add_header_cstr(res, "X-Evil", "a\r\nInjected: yes") != 0) return 1;
  return fa_write_cstr(res, "unreachable");
}

// 204: no body, no Content-Length.
FASTERAPI_HANDLER(no_content) {
  (void)req;
  fa_set_status(res, 204);
  return fa_write_cstr(res, "dropped");
}

// A handler that throws: the engine catches it and answers 500.
FASTERAPI_HANDLER(throws) {
  (void)req;
  (void)res;
  throw std::string("boom");
}
