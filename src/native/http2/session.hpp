// HTTP/2 (RFC 9113) server session for one connection, with no I/O of its own: bytes in
// (on_data) -> streams -> bytes out (output()). Framing, HPACK and flow control are nghttp2's
// (Debian libnghttp2-dev); this class adapts each stream to the HTTP/1.1 engine unchanged:
//
//   request HEADERS/DATA --(as an HTTP/1.1 request)--> a per-stream http::Connection
//       --> the same Dispatcher as HTTP/1.1 (every route, plan, streamed body and response)
//   the HTTP/1.1 response it writes --(parsed, hop-by-hop fields dropped, de-chunked)-->
//       response HEADERS/DATA
//
// Memory is bounded: a stream's request bytes are taken from nghttp2 only up to its receive
// window (consumed, so the window reopens, once the stream's Connection took them); its response
// bytes stay in the Connection's output (whose high-water mark pauses the producer) until the
// peer's flow-control window lets nghttp2 pull them.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "http/buffer.hpp"
#include "http/connection.hpp"
#include "http/message.hpp"
#include "server/link.hpp"

typedef struct nghttp2_session nghttp2_session;

namespace fasterapi::http2 {

// The client connection preface (RFC 9113 3.4): a connection whose first bytes are these speaks
// HTTP/2 by prior knowledge.
constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// GOAWAY / RST_STREAM error codes used here (RFC 9113 7).
enum ErrorCode : uint32_t {
  kNoError = 0,
  kProtocolError = 1,
  kInternalError = 2,
  kFlowControlError = 3,
  kEnhanceYourCalm = 11,
};

// False in a build without nghttp2 (session_off.cpp): the server then speaks HTTP/1.1 only.
bool available();

// `Upgrade: h2c` (RFC 7540 3.2): when `data` starts with a complete HTTP/1.1 request head that asks
// for h2c (Upgrade: h2c, one HTTP2-Settings, Connection naming both) and has no body, returns true
// with the request rebuilt without those fields (it becomes stream 1), the decoded SETTINGS
// payload, and the bytes of `data` it used. Anything else (incomplete, a body, malformed): false,
// and the connection stays HTTP/1.1.
bool parse_h2c_upgrade(std::string_view data, size_t max_head, std::string& request, std::string& settings,
                       size_t& used);

struct Settings {
  uint32_t max_concurrent_streams = 100;  // SETTINGS_MAX_CONCURRENT_STREAMS
  uint32_t initial_window = 65535;        // SETTINGS_INITIAL_WINDOW_SIZE (request bodies, per stream)
  // Control frames (PING, SETTINGS, PRIORITY, RST_STREAM, empty DATA without END_STREAM) the client
  // may send per window of control_window_ms: beyond, GOAWAY ENHANCE_YOUR_CALM. (Not WINDOW_UPDATE:
  // a client with a small window legitimately sends one per few KiB received.)
  uint32_t max_control_frames = 1000;
  uint32_t control_window_ms = 10000;
  uint32_t max_continuations = 8;  // CONTINUATION frames after one HEADERS (nghttp2's limit)
  uint32_t reset_burst = 200;      // client RST_STREAMs: a token bucket (nghttp2's limit), then GOAWAY
  uint32_t reset_rate = 33;        // tokens per second
};

class Session {
 public:
  // A new dispatcher for each stream (its ConnLink's host/port/tls filled in by the caller).
  using MakeDispatcher = std::function<std::unique_ptr<server::ConnectionDispatcher>()>;
  // kick_conn: "this connection has output or can read again" (the socket loop flushes it).
  // upgrade_request: the HTTP/1.1 request of an `Upgrade: h2c` (becomes stream 1); empty: none.
  Session(const http::Limits& limits, const Settings& settings, MakeDispatcher make, std::function<void()> kick_conn,
          std::string_view settings_payload = {}, std::string upgrade_request = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void on_data(const char* data, size_t n);
  void on_eof();
  // Produce output (frames nghttp2 has ready, responses that progressed) up to the high-water mark.
  void pump();
  http::Buffer& output() { return out_; }
  // Nothing more will be read or written: close once output() is flushed.
  bool done() const { return done_; }
  // No stream open (the keep-alive timeout applies).
  bool idle() const { return streams_.empty(); }
  // Graceful shutdown: GOAWAY(NO_ERROR); open streams finish, then done().
  void shutdown();
  bool draining() const { return draining_; }
  // Tear down: GOAWAY with `code`, then done() once it is out.
  void terminate(uint32_t code);
  // Deadlines (server/loop.cpp's sweep): a response stalled on a flow-control window the peer
  // never opens for write_timeout_ms, or a header block left incomplete for header_timeout_ms:
  // GOAWAY ENHANCE_YOUR_CALM; a request body with no DATA for body_timeout_ms: the stream's
  // Connection fails it as on HTTP/1.1 (408, or the streamed body aborted), then RST_STREAM.
  void sweep(uint64_t now, uint32_t write_timeout_ms, uint32_t header_timeout_ms = 0, uint32_t body_timeout_ms = 0);
  uint64_t requests_served() const { return served_; }
  bool dirty() const { return dirty_; }
  // The GOAWAY code we sent (-1: none), for tests and logs.
  int64_t goaway_sent() const { return goaway_code_; }

  struct Stream;

 private:
  friend struct Callbacks;
  void service(Stream& s);       // feed its input to its Connection, turn its output into frames
  void kick_stream(int32_t id);  // from a stream's ConnLink::kick (a late response, a resumed body)
  void flush_frames();
  void reap();
  bool control_frame(uint64_t now);  // count one; false once over the budget
  void start_upgraded(std::string request);

  const http::Limits& limits_;
  Settings settings_;
  MakeDispatcher make_;
  std::function<void()> kick_conn_;
  nghttp2_session* ng_ = nullptr;
  http::Buffer out_;
  std::map<int32_t, std::unique_ptr<Stream>> streams_;
  std::vector<std::unique_ptr<Stream>> graveyard_;  // closed streams, destroyed outside callbacks
  std::shared_ptr<Session*> self_;                  // streams' kicks hold a weak_ptr: null once gone
  int depth_ = 0;                                   // inside an entry point: kicks only mark streams
  bool done_ = false;
  bool draining_ = false;
  bool dirty_ = false;
  // After `Upgrade: h2c`: no frame goes out before the client's preface and SETTINGS arrived (a
  // client reads the 101 and then expects to write its preface; curl 7.88 cannot buffer a whole
  // window of response data sent before it did).
  bool await_client_ = false;
  int64_t goaway_code_ = -1;
  uint64_t served_ = 0;
  uint64_t control_start_ = 0;
  uint32_t control_count_ = 0;
};

}  // namespace fasterapi::http2
