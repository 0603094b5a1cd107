// Test driver for http::Connection: an echo Dispatcher behind a binary stdin/stdout protocol,
// so tests/native/test_http_corpus.py can replay byte streams with any split and read back every
// response byte. One process serves many connections, one after the other.
//
// stdin records (integers little-endian):
//   'N' u32 flags, u64 max_request_line, u64 max_head, u64 max_headers, u64 max_body,
//       u64 max_pipelined, u64 output_high_water       start a new connection
//          flags bit 0: handle() returns Pending; the driver completes the response after
//                       the event that caused it (as an event loop would)
//          flags bit 1: do not drain output between events (a peer that does not read);
//                       everything is drained at 'F'
//          flags bit 2: stream request bodies (Dispatcher::stream_body): a request with a body is
//                       dispatched at head-complete and answered when its sink sees the end
//                       (at once, from inside the sink's on_end, or, with bit 0, by the driver
//                       after the event); a sink that holds 16 bytes is full until the driver
//                       takes them after the event (resume_body); a body that fails is answered
//                       with the connection's body_failure() status as a buffered one would be
//   'D' u32 len, bytes      on_data(bytes)
//   'B' u32 len, bytes      on_data one byte at a time
//   'E'                     on_eof()
//   'S'                     set_draining()
//   'T' u32 status          fail(status) (a socket-layer deadline)
//   'P'                     probe: records in_request(), reading_body(), pending(), should_close()
//   'F'                     finish: answer 'R' u32 len, output bytes, u8 closed_before_eof,
//                           u8 closed, u32 requests_served, u32 max_output_seen, u32 probes,
//                           then 4 bytes per probe (the four flags, in that order)
//   'Q'                     quit
// "closed" is the socket layer's view: should_close() with nothing pending and all output sent;
// bytes sent after that are dropped, as a closed socket would.
//
// The echo endpoint (/work/shared/http-corpus/README.md): any method and path answers 200 with
// "ECHO <METHOD> <raw path> len=<body bytes> host=<Host>\n". A path "/limit/<N>..." sets the body
// limit of that request to N bytes (a route override); other requests use Limits::max_body.
// A path "/status/<NNN>" answers that status instead of 200 (same body).
// With streamed bodies the responses are meant to be byte-identical to the buffered ones, except
// on two paths that answer before the body was read (its rest is then discarded): "/answer-now..."
// (handle() answers at once, no sink) and "/answer-first..." (answered from inside the sink's
// first on_chunk); both echo len=0.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "http/connection.hpp"
#include "http/response.hpp"

namespace fh = fasterapi::http;

namespace {

bool read_exact(void* p, size_t n) { return n == 0 || std::fread(p, 1, n, stdin) == n; }

uint32_t read_u32() {
  unsigned char b[4];
  if (!read_exact(b, 4)) std::exit(2);
  return uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 | uint32_t(b[3]) << 24;
}

uint64_t read_u64() {
  uint64_t lo = read_u32();
  uint64_t hi = read_u32();
  return lo | hi << 32;
}

void write_u32(uint32_t v) {
  unsigned char b[4] = {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)};
  std::fwrite(b, 1, 4, stdout);
}

constexpr uint32_t kFlagPending = 1, kFlagStream = 4;
constexpr size_t kSinkHold = 16;  // a streamed body's sink is full past this many untaken bytes

// One response to write: an echo, or an error status (a streamed body that failed).
struct Stored {
  std::string body;
  bool close;
  bool head_only;
  int status;
  bool error = false;
};

std::string echo_text(const fh::Request& req, uint64_t body_len) {
  std::string body = "ECHO ";
  body.append(req.method);
  body += ' ';
  body.append(req.path);
  body += " len=";
  body += std::to_string(body_len);
  body += " host=";
  body.append(req.host);
  body += '\n';
  return body;
}

int status_of(std::string_view path) {
  if (path.substr(0, 8) != "/status/" || path.size() != 11) return 200;
  int status = 0;
  for (size_t i = 8; i < 11; ++i) status = status * 10 + (path[i] - '0');
  return status;
}

class EchoDispatcher;

// The sink of a streamed body: counts it, holds at most kSinkHold untaken bytes, and answers the
// request once the body is over.
class EchoSink final : public fh::BodySink {
 public:
  EchoSink(EchoDispatcher& d, const fh::Request& req)
      : d_(d),
        head_(echo_text(req, 0)),
        close_(!req.keep_alive),
        head_only_(req.is_head),
        status_(status_of(req.path)),
        answer_first_(req.path.substr(0, 13) == "/answer-first") {}
  bool on_chunk(std::string_view data) override;
  void on_end() override;
  void on_abort() override;
  bool take() {  // the app read what was held: room again
    bool was_full = held_ >= kSinkHold;
    held_ = 0;
    return was_full;
  }

 private:
  EchoDispatcher& d_;
  std::string head_;  // the echo with len=0 (the real length is put in at the end)
  bool close_, head_only_;
  int status_;
  uint64_t count_ = 0;
  uint64_t held_ = 0;
  bool answer_first_;
  bool answered_ = false;
  bool finished_ = false;
};

class EchoDispatcher : public fh::Dispatcher {
 public:
  EchoDispatcher(const fh::Limits& limits, uint32_t flags)
      : limits_(limits), pending_mode_(flags & kFlagPending), stream_mode_(flags & kFlagStream) {}

  fh::Connection* conn = nullptr;
  bool alive = true;  // false while the session tears down (a sink's on_abort from ~Connection)

  uint64_t body_limit(const fh::Request& head) override {
    std::string_view p = head.path;
    if (p.substr(0, 7) == "/limit/") {
      uint64_t v = 0;
      for (size_t i = 7; i < p.size() && p[i] >= '0' && p[i] <= '9'; ++i) v = v * 10 + uint64_t(p[i] - '0');
      return v;
    }
    return limits_.max_body;
  }

  bool stream_body(const fh::Request&) override { return stream_mode_; }

  fh::HandleResult handle(const fh::Request& req, fh::Buffer& out) override {
    if (req.body_streamed) {
      if (!req.body.empty() || (req.chunked && req.content_length != 0)) std::abort();  // contract
      if (req.path.substr(0, 11) == "/answer-now") {  // no sink: the body is discarded
        fh::write_response(out, status_of(req.path), "text/plain", "X-Echo: 1\r\n", echo_text(req, 0), !req.keep_alive,
                           req.is_head);
        return fh::HandleResult::Done;
      }
      sink_ = std::make_shared<EchoSink>(*this, req);
      conn->attach_body(sink_);
      return fh::HandleResult::Pending;  // answered by the sink
    }
    // Copy what the response needs: the views die when handle() returns.
    std::string body = echo_text(req, req.body.size());
    if (req.body.size() != req.content_length) std::abort();  // contract: content_length = body size
    bool close = !req.keep_alive;
    int status = status_of(req.path);
    if (pending_mode_) {
      waiting_.push_back(Stored{std::move(body), close, req.is_head, status});
      return fh::HandleResult::Pending;
    }
    fh::write_response(out, status, "text/plain", "X-Echo: 1\r\n", body, close, req.is_head);
    return fh::HandleResult::Done;
  }

  // A streamed request's answer: now (from inside the sink's callback), or after the event.
  void answer(Stored s) {
    if (!alive) return;
    if (pending_mode_) {
      waiting_.push_back(std::move(s));
      return;
    }
    write(s);
    conn->complete();
  }

  // Completes one stored response; the connection holds at most one pending request.
  bool complete_one() {
    if (waiting_.empty()) return false;
    Stored s = std::move(waiting_.front());
    waiting_.erase(waiting_.begin());
    write(s);
    conn->complete();
    return true;
  }

  // The app takes what the streamed body's sink holds (as an event loop turn would).
  bool take() {
    if (!sink_ || !sink_->take()) return false;
    conn->resume_body();
    return true;
  }

 private:
  void write(Stored& s) {
    if (conn->draining()) s.close = true;
    if (s.error) {
      if (s.status) fh::write_error(conn->output(), s.status, true);  // (EOF: no response, as buffered)
    } else {
      fh::write_response(conn->output(), s.status, "text/plain", "X-Echo: 1\r\n", s.body, s.close, s.head_only);
    }
  }

  const fh::Limits& limits_;
  bool pending_mode_;
  bool stream_mode_;
  std::vector<Stored> waiting_;
  std::shared_ptr<EchoSink> sink_;  // the last streamed body's
};

bool EchoSink::on_chunk(std::string_view data) {
  if (data.empty() || finished_) std::abort();  // contract: never an empty chunk, none after the end
  count_ += data.size();
  held_ += data.size();
  if (answer_first_ && !answered_) {  // the response completes now: the rest is discarded
    answered_ = true;
    d_.answer(Stored{head_, close_, head_only_, status_});
  }
  return held_ < kSinkHold;
}

void EchoSink::on_end() {
  if (finished_) std::abort();  // contract: one end or abort per sink
  finished_ = true;
  if (answered_) return;  // (answered from on_chunk, completed by the driver after the event)
  std::string body = head_;
  size_t at = body.find(" len=0 ");
  body.replace(at, 7, " len=" + std::to_string(count_) + " ");
  d_.answer(Stored{std::move(body), close_, head_only_, status_});
}

void EchoSink::on_abort() {
  if (finished_) std::abort();
  finished_ = true;
  if (!d_.alive || answered_) return;
  // A buffered body that fails is answered with that status (none for EOF): the same here.
  int st = d_.conn->body_failure();
  d_.answer(Stored{{}, true, false, st, true});
}

struct Session {
  fh::Limits limits;
  uint32_t flags = 0;
  EchoDispatcher* dispatcher = nullptr;
  fh::Connection* conn = nullptr;
  std::string sent;  // bytes that reached the peer
  bool closed = false;
  bool closed_before_eof = false;
  bool eof = false;
  size_t max_output = 0;
  std::string probes;

  void drain() {
    fh::Buffer& out = conn->output();
    if (out.size() > max_output) max_output = out.size();
    sent.append(out.data(), out.size());
    out.consume(out.size());
  }

  // What an event loop does after an event: complete pending work, send output, resume.
  void pump(bool final_drain) {
    for (int guard = 0; guard < 1000000 && !closed; ++guard) {
      bool progress = false;
      if (conn->pending() && dispatcher->complete_one()) progress = true;
      if (dispatcher->take()) progress = true;
      fh::Buffer& out = conn->output();
      if (out.size() > max_output) max_output = out.size();
      bool drain_now = !(flags & 2) || final_drain;
      if (drain_now && !out.empty()) {
        drain();
        progress = true;
      }
      if (out.empty() && conn->should_close() && !conn->pending()) {
        closed = true;
        closed_before_eof = !eof;
        break;
      }
      if (out.empty() && !conn->pending()) {
        conn->resume();
        if (!out.empty() || conn->pending()) progress = true;
      }
      if (!progress) break;
    }
  }
};

}  // namespace

int main() {
  std::setvbuf(stdout, nullptr, _IOFBF, 1 << 16);
  Session* s = nullptr;
  std::vector<char> buf;
  for (;;) {
    int type = std::fgetc(stdin);
    if (type == EOF || type == 'Q') break;
    switch (type) {
      case 'N': {
        if (s) {
          s->dispatcher->alive = false;
          delete s->conn;
          delete s->dispatcher;
          delete s;
        }
        s = new Session();
        s->flags = read_u32();
        s->limits.max_request_line = uint32_t(read_u64());
        s->limits.max_head = uint32_t(read_u64());
        s->limits.max_headers = uint32_t(read_u64());
        s->limits.max_body = read_u64();
        s->limits.max_pipelined = uint32_t(read_u64());
        s->limits.output_high_water = uint32_t(read_u64());
        s->dispatcher = new EchoDispatcher(s->limits, s->flags);
        s->conn = new fh::Connection(s->limits, *s->dispatcher);
        s->dispatcher->conn = s->conn;
        break;
      }
      case 'D':
      case 'B': {
        uint32_t n = read_u32();
        buf.resize(n);
        if (!read_exact(buf.data(), n)) return 2;
        if (!s || s->closed) break;
        if (type == 'D') {
          s->conn->on_data(buf.data(), n);
          s->pump(false);
        } else {
          for (uint32_t i = 0; i < n && !s->closed; ++i) {
            s->conn->on_data(buf.data() + i, 1);
            s->pump(false);
          }
        }
        break;
      }
      case 'E':
        if (!s || s->closed) break;
        s->eof = true;
        s->conn->on_eof();
        s->pump(false);
        break;
      case 'S':
        if (!s || s->closed) break;
        s->conn->set_draining();
        s->pump(false);
        break;
      case 'T': {
        uint32_t st = read_u32();
        if (!s || s->closed) break;
        s->conn->fail(int(st));
        s->pump(false);
        break;
      }
      case 'P':
        if (!s) return 2;
        s->probes += char(s->conn->in_request());
        s->probes += char(s->conn->reading_body());
        s->probes += char(s->conn->pending());
        s->probes += char(s->conn->should_close());
        break;
      case 'F': {
        if (!s) return 2;
        s->pump(true);
        std::fputc('R', stdout);
        write_u32(uint32_t(s->sent.size()));
        std::fwrite(s->sent.data(), 1, s->sent.size(), stdout);
        std::fputc(s->closed_before_eof ? 1 : 0, stdout);
        std::fputc(s->closed ? 1 : 0, stdout);
        write_u32(uint32_t(s->conn->requests_served()));
        write_u32(uint32_t(s->max_output));
        write_u32(uint32_t(s->probes.size() / 4));
        std::fwrite(s->probes.data(), 1, s->probes.size(), stdout);
        std::fflush(stdout);
        break;
      }
      default: std::fprintf(stderr, "http_driver: bad record type %d\n", type); return 2;
    }
  }
  if (s) {
    s->dispatcher->alive = false;
    delete s->conn;
    delete s->dispatcher;
    delete s;
  }
  return 0;
}
