// HTTP/1.1 server-side protocol state machine for one connection, with no I/O of its own:
// bytes in (on_data) -> requests out (Dispatcher) -> bytes out (output()).
// The socket loop and the in-process test entry point drive the same class.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "buffer.hpp"
#include "message.hpp"
#include "parser.hpp"
#include "websocket.hpp"

namespace fasterapi::http {

enum class HandleResult {
  Done,     // the response is complete in `out`
  Pending,  // the response will come later via Connection::complete(); stop processing input
};

// Receives a streamed request body (Dispatcher::stream_body) as it is decoded. Attached with
// Connection::attach_body() from inside Dispatcher::handle(); the connection holds it until the
// body ends or fails, and may call it from inside any of its own entry points (the callee may
// call back into the connection: complete(), resume_body(), ...).
class BodySink {
 public:
  virtual ~BodySink() = default;
  // Decoded body bytes (Content-Length or chunked framing removed), valid during the call only.
  // Return false when the sink holds enough: the connection consumes no more input (and reports
  // read_paused()) until resume_body().
  virtual bool on_chunk(std::string_view data) = 0;
  // The whole body arrived (after its last on_chunk).
  virtual void on_end() = 0;
  // No more bytes will come and the body is incomplete: the connection failed or went away (EOF,
  // a malformed body, over the body limit, a deadline: Connection::body_failure() says which), or
  // the response was completed before the body was read (the rest is discarded).
  virtual void on_abort() = 0;
};

class Dispatcher {
 public:
  virtual ~Dispatcher() = default;
  // Called when a request head is parsed, before its body is read: return the body limit
  // for this request (e.g. looked up from its route). A Content-Length above it is a 413.
  virtual uint64_t body_limit(const Request& head) = 0;
  // Called after body_limit() for a request with a body: true to have it dispatched now, at
  // head-complete, with Request::body_streamed set and the body delivered to a BodySink that
  // handle() attaches (none attached: the body is read and discarded).
  virtual bool stream_body(const Request& head) {
    (void)head;
    return false;
  }
  // Called with a complete request (head and body; only the head when body_streamed). Append the
  // whole response to `out` (use ResponseHead in response.hpp) or return Pending and call
  // complete() later.
  virtual HandleResult handle(const Request& req, Buffer& out) = 0;
  // The response to the request last handled is complete (Done, or complete() after Pending):
  // `status` is the last status line written for it, 0 when none was (the client went away).
  virtual void response_end(int status) { (void)status; }
};

class Connection {
 public:
  Connection(const Limits& limits, Dispatcher& dispatcher);
  ~Connection();

  // Feed received bytes; parses and dispatches as many complete requests as possible
  // (stops while a response is pending, or while output() is above the high-water mark).
  void on_data(const char* data, size_t n);
  // Peer half-closed: an incomplete request is dropped (no response); mark for close.
  void on_eof();
  // Continue processing buffered input (after complete(), or after output was drained).
  void resume();
  // Finish a Pending response: the caller has appended it to output(). Resumes processing.
  // A streamed body not fully read yet is detached from its sink and the rest discarded.
  void complete();

  // ---- streamed request bodies (Dispatcher::stream_body) ----
  // From inside handle() of a body_streamed request: the decoded body goes to `sink`.
  void attach_body(std::shared_ptr<BodySink> sink);
  // The sink has room again (it returned false from on_chunk): consume input again.
  void resume_body();
  // Why the last streamed body was aborted: 400 (malformed), 413 (over the limit), 408 (a
  // deadline), 0 (EOF, the connection closed, or the response completed before the body).
  int body_failure() const { return body_failure_; }
  // Reading has stopped: the connection closes once the pending response (if any) is out.
  bool reading_stopped() const { return stopped_; }
  bool peer_closed() const { return eof_; }  // the client's FIN arrived

  Buffer& output() { return out_; }
  // True when the connection must be closed once output() has been flushed
  // (Connection: close, HTTP/1.0 without keep-alive, a protocol error, EOF).
  bool should_close() const { return close_after_flush_; }
  bool pending() const { return pending_; }
  // True when a request head has started arriving but is not complete (for the head deadline).
  bool in_request() const;
  // True when bytes of a request body are still expected (for the body-rate deadline).
  bool reading_body() const;
  // Request the connection to close after the current response (graceful shutdown):
  // the next response carries "Connection: close".
  void set_draining();
  bool draining() const { return draining_; }
  uint64_t requests_served() const { return served_; }
  // The socket layer gave up on the request in progress (a deadline): answer `status`
  // ({"detail": ...}) and close once it is flushed. Nothing more is read or dispatched.
  void fail(int status);

  // ---- WebSocket (RFC 6455) ----
  // While the response to a websocket handshake is pending: may it become a WebSocket?
  bool can_upgrade() const { return pending_ && !stopped_ && !draining_ && phase_ == Phase::Head; }
  // The dispatcher has appended the 101 response to output(): from now on the input is frames,
  // decoded into whole messages for `handler` (no HTTP parsing); completes the pending request.
  void upgrade(std::unique_ptr<ws::Handler> handler, uint64_t max_message);
  bool upgraded() const { return phase_ == Phase::WebSocket || ws_ != nullptr; }
  // Input is not read (a WebSocket whose handler asked to stop, a pending response, a streamed
  // body's full sink). A streamed body is read while its response is pending.
  bool read_paused() const { return ws_paused_ || (streaming_ ? body_paused_ : pending_); }
  void ws_resume_reading();
  // A message frame; false once the WebSocket is closing or closed.
  bool ws_send(bool text, std::string_view payload);
  // Our close frame (the handler's on_close follows with `code`); the connection closes once it
  // is flushed.
  void ws_close(uint16_t code, std::string_view reason);
  // From inside Dispatcher::handle(): close the connection after the response being written (a
  // refused handshake: its error response carries "Connection: close").
  void close_after_response() { close_requested_ = true; }
  // Call the handler's on_writable() once the output has been flushed.
  void ws_notify_writable() { ws_want_writable_ = true; }

 private:
  // Implementation details (free to change). All parser positions are offsets from in_.data(),
  // which only moves forward (consume) between requests, so they survive a reallocation.
  enum class Phase : uint8_t { Head, BodyLength, BodyChunked, WebSocket, Closed };

  void process();
  bool step();  // one step of process(): false to stop
  void process_ws();
  void finish_ws(uint16_t code, std::string_view reason);  // notify the handler once, stop reading
  int scan_head();                                         // 0 need more, 1 head complete, else an error status
  int finish_head();                                       // semantic checks on a complete head; 0 or an error status
  int decode_chunked();                                    // 0 need more, 1 body complete, else an error status
  void materialize();  // point req_'s views into in_ (it may have moved since the head)
  void dispatch(size_t consumed);
  // Streamed bodies (the head is dispatched first, then the body goes to sink_).
  void dispatch_head();
  bool stream_length();         // Content-Length body: deliver what is buffered; false to stop
  bool stream_chunked();        // chunked body: decode and deliver what is buffered; false to stop
  bool deliver(size_t n);       // the first n input bytes to the sink, then consumed; false if stopped
  void end_body();              // the streamed body is complete
  void abort_body(int status);  // it cannot complete: tell the sink, stop reading
  void detach_body();           // the sink gets on_abort(); the rest of the body is discarded
  void drop_body();             // answered before the body was read: discard it (or close)
  void reject(int status);      // protocol error: write_error(status, close) and stop reading
  void stop_reading();          // no more requests on this connection
  bool paused() const;
  size_t input_cap() const;
  uint64_t body_size() const { return streaming_ ? body_received_ : body_.size(); }
  uint32_t max_headers() const { return limits_.max_headers < kMaxHeaders ? limits_.max_headers : kMaxHeaders; }

  const Limits& limits_;
  Dispatcher& dispatcher_;
  Buffer in_;
  Buffer out_;
  std::string body_;  // decoded chunked body
  bool pending_ = false;
  bool close_after_flush_ = false;
  bool draining_ = false;
  bool eof_ = false;
  bool stopped_ = false;  // reading stopped: close once the pending response (if any) is out
  uint64_t served_ = 0;

  Phase phase_ = Phase::Head;
  // head scanning
  size_t scanned_ = 0;     // bytes already searched for '\n'
  size_t line_start_ = 0;  // start of the current (incomplete) line
  size_t head_len_ = 0;    // request head length incl. its final CRLF (and skipped empty lines)
  uint32_t lines_ = 0;     // complete non-empty lines of this head (request line + fields)
  detail::RequestLine rl_;
  detail::Span names_[kMaxHeaders];
  detail::Span values_[kMaxHeaders];
  int16_t host_idx_ = -1;   // index of the Host field (-1: none)
  int16_t ctype_idx_ = -1;  // index of the first Content-Type field (-1: none)
  bool conn_keep_alive_ = true;
  bool views_stale_ = false;  // input appended since req_'s views were made (it may have moved)
  // body
  uint64_t body_limit_ = 0;
  size_t pos_ = 0;    // chunked: input offset of the next unprocessed framing byte
  size_t tscan_ = 0;  // chunked trailers: bytes already searched for '\n'
  uint64_t chunk_remaining_ = 0;
  uint32_t chunk_digits_ = 0;
  uint32_t ext_bytes_ = 0;
  uint32_t trailer_bytes_ = 0;
  uint32_t trailer_count_ = 0;
  uint8_t chunk_state_ = 0;
  // streamed body
  bool streaming_ = false;         // the head was dispatched, its body is being read (sink_ or discarded)
  bool body_paused_ = false;       // the sink is full: no input consumed until resume_body()
  bool close_after_body_ = false;  // the request ends the connection: stop reading after its body
  bool processing_ = false;        // inside process(): a nested call (from a callback) returns at once
  int body_failure_ = 0;
  uint64_t body_left_ = 0;      // Content-Length: bytes still to come
  uint64_t body_received_ = 0;  // chunked: decoded bytes so far (the body limit)
  size_t decoded_ = 0;          // chunked: decoded bytes at the front of in_, to deliver
  std::shared_ptr<BodySink> sink_;
  Request req_;
  // WebSocket
  std::unique_ptr<ws::Handler> ws_;
  std::unique_ptr<ws::Decoder> ws_decoder_;
  bool ws_paused_ = false;
  bool ws_close_sent_ = false;
  bool ws_finished_ = false;
  bool ws_want_writable_ = false;
  bool close_requested_ = false;
};

}  // namespace fasterapi::http
