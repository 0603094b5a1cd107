// The parsed form of one HTTP/1.1 request. Every string_view points into the connection's
// input buffer (or, for a chunked body, the connection's body buffer) and is valid only for
// the duration of the Dispatcher call that receives it. A streamed body (Dispatcher::stream_body)
// is not in the Request: it reaches a BodySink as it arrives.
#pragma once
#include <cstdint>
#include <string_view>

namespace fasterapi::http {

struct Header {
  std::string_view name;   // as received (case preserved); compare case-insensitively
  std::string_view value;  // leading/trailing OWS stripped
};

struct Limits {
  uint32_t max_request_line = 8 * 1024;               // > this: 414
  uint32_t max_head = 16 * 1024;                      // whole head incl. request line: > this: 431
  uint32_t max_headers = 100;                         // > this many fields: 431
  uint64_t max_body = 16 * 1024 * 1024;               // default body limit: > this: 413 (routes may override)
  uint32_t max_pipelined = 64;                        // requests parsed ahead while a response is pending
  uint32_t output_high_water = 1024 * 1024;           // stop handling requests while more is unsent
  uint64_t max_websocket_message = 16 * 1024 * 1024;  // a larger WebSocket message: close 1009
};

constexpr uint32_t kMaxHeaders = 128;  // hard array bound; Limits::max_headers <= this

struct Request {
  std::string_view method;
  std::string_view target;    // raw request-target as received
  std::string_view path;      // target before '?', raw (not percent-decoded)
  std::string_view query;     // after '?', raw, without the '?'
  uint8_t version_minor = 1;  // HTTP/1.<minor>: 0 or 1
  Header headers[kMaxHeaders];
  uint32_t num_headers = 0;
  std::string_view host;          // value of the Host header ("" if absent on HTTP/1.0)
  std::string_view content_type;  // value of Content-Type ("" if absent)
  bool keep_alive = true;         // after this request, may the connection stay open?
  bool expect_continue = false;
  bool chunked = false;
  bool is_head = false;            // method == "HEAD": the response has no body
  bool websocket_upgrade = false;  // GET with "websocket" among its Upgrade tokens (http/websocket.hpp)
  uint64_t content_length = 0;     // body length (for chunked: decoded length, known when complete;
                                   // 0 for a streamed chunked body)
  std::string_view body;           // complete body, set when the Dispatcher's handle() is called
                                   // (empty when body_streamed)
  bool body_streamed = false;      // dispatched at head-complete: the body follows through a BodySink

  std::string_view header(std::string_view lower_name) const;  // first match, "" if absent
};

}  // namespace fasterapi::http
