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
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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

class EchoDispatcher : public fh::Dispatcher {
 public:
  explicit EchoDispatcher(const fh::Limits& limits, bool pending) : limits_(limits), pending_mode_(pending) {}

  uint64_t body_limit(const fh::Request& head) override {
    std::string_view p = head.path;
    if (p.substr(0, 7) == "/limit/") {
      uint64_t v = 0;
      for (size_t i = 7; i < p.size() && p[i] >= '0' && p[i] <= '9'; ++i) v = v * 10 + uint64_t(p[i] - '0');
      return v;
    }
    return limits_.max_body;
  }

  fh::HandleResult handle(const fh::Request& req, fh::Buffer& out) override {
    // Copy what the response needs: the views die when handle() returns.
    std::string body = "ECHO ";
    body.append(req.method);
    body += ' ';
    body.append(req.path);
    body += " len=";
    body += std::to_string(req.body.size());
    body += " host=";
    body.append(req.host);
    body += '\n';
    if (req.body.size() != req.content_length) std::abort();  // contract: content_length = body size
    bool close = !req.keep_alive;
    int status = 200;
    if (req.path.substr(0, 8) == "/status/" && req.path.size() == 11) {
      status = 0;
      for (size_t i = 8; i < 11; ++i) status = status * 10 + (req.path[i] - '0');
    }
    if (pending_mode_) {
      waiting_.push_back(Stored{std::move(body), close, req.is_head, status});
      return fh::HandleResult::Pending;
    }
    fh::write_response(out, status, "text/plain", "X-Echo: 1\r\n", body, close, req.is_head);
    return fh::HandleResult::Done;
  }

  // Completes one stored response; the connection holds at most one pending request.
  bool complete_one(fh::Connection& conn) {
    if (waiting_.empty()) return false;
    Stored s = std::move(waiting_.front());
    waiting_.erase(waiting_.begin());
    if (conn.draining()) s.close = true;
    fh::write_response(conn.output(), s.status, "text/plain", "X-Echo: 1\r\n", s.body, s.close, s.head_only);
    conn.complete();
    return true;
  }

 private:
  struct Stored {
    std::string body;
    bool close;
    bool head_only;
    int status;
  };
  const fh::Limits& limits_;
  bool pending_mode_;
  std::vector<Stored> waiting_;
};

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
      if (conn->pending() && dispatcher->complete_one(*conn)) progress = true;
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
        s->dispatcher = new EchoDispatcher(s->limits, s->flags & 1);
        s->conn = new fh::Connection(s->limits, *s->dispatcher);
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
      default:
        std::fprintf(stderr, "http_driver: bad record type %d\n", type);
        return 2;
    }
  }
  if (s) {
    delete s->conn;
    delete s->dispatcher;
    delete s;
  }
  return 0;
}
