// libFuzzer target: a whole connection through server::Server (epoll loop, recv/send,
// backpressure, linger, deadlines, late responses through ConnLink) over a socketpair.
// The server gets a C++ DispatcherFactory with the corpus's echo dispatcher; the fuzz bytes are
// written in random segments to the client end, the client end is read after every poll, then
// the client half-closes and the server is polled until it has closed the connection.
//
// Input layout:
//   byte 0      mode: bit 0 Pending dispatcher (completed after each poll through the ConnLink,
//               as the bridge does); bits 1-2 limits (fuzz_common.hpp pick_limits); bit 3 call
//               sweep() with zero deadlines mid-stream; bit 4 begin_shutdown() mid-stream;
//               bit 5 the client stops reading until it has written everything
//   byte 1      number of split sizes that follow (low nibble)
//   bytes 2..5  extra limit values
//   next n      split sizes (1..256 bytes each, cycled; 0 split sizes: one write)
//   the rest    the byte stream
//
// Invariants: no crash/sanitizer report/leak/hang; the bytes read back are well-formed responses
// (fuzz_common.hpp parse_output); the server closes the connection after the client's EOF; and in
// the plain schedule (no sweep/shutdown) the responses equal those of http::Connection fed the
// same bytes directly (the socket layer changes nothing in what is answered).
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>

#include "fuzz_common.hpp"
#include "server/loop.hpp"

using namespace fuzzcommon;
namespace fs = fasterapi::server;

namespace {

struct Shared {
  std::vector<Rec> handled;
  std::deque<Rec> waiting;
  std::shared_ptr<fs::ConnLink> link;
};

class ServerEcho : public fs::ConnectionDispatcher {
 public:
  ServerEcho(const fh::Limits& lim, bool pending, std::shared_ptr<Shared> sh)
      : lim_(lim), pending_(pending), sh_(std::move(sh)) {
    sh_->link = link;
  }
  uint64_t body_limit(const fh::Request& head) override {
    std::string_view p = head.path;
    if (p.substr(0, 7) == "/limit/") {
      uint64_t v = 0;
      for (size_t i = 7; i < p.size() && i < 25 && p[i] >= '0' && p[i] <= '9'; ++i) v = v * 10 + uint64_t(p[i] - '0');
      return v;
    }
    return lim_.max_body;
  }
  fh::HandleResult handle(const fh::Request& req, fh::Buffer& out) override {
    if (pending_ && !sh_->waiting.empty()) die("handle() called while a response is pending");
    Rec r = echo_of(req, lim_);
    sh_->handled.push_back(r);
    if (pending_) {
      sh_->waiting.push_back(std::move(r));
      return fh::HandleResult::Pending;
    }
    write_rec(out, r);
    return fh::HandleResult::Done;
  }

 private:
  const fh::Limits& lim_;
  bool pending_;
  std::shared_ptr<Shared> sh_;
};

struct Client {
  fs::Server& srv;
  std::shared_ptr<Shared> sh;
  int fd;
  bool reading = true;
  bool peer_closed = false;  // the server closed its write side (read returned 0)
  std::string got;

  // Completes a late response the way the bridge does: through the link, then kick().
  bool complete_pending() {
    if (sh->waiting.empty() || !sh->link) return false;
    Rec r = std::move(sh->waiting.front());
    sh->waiting.pop_front();
    fh::Connection* c = sh->link->conn;
    if (!c) return true;  // connection gone: the late response is dropped
    if (c->draining()) r.close = true, sh->handled.back().close = true;
    write_rec(c->output(), r);
    c->complete();
    sh->link->kick();
    return true;
  }

  bool read_some() {
    bool any = false;
    char buf[65536];
    for (;;) {
      ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        got.append(buf, size_t(n));
        any = true;
        continue;
      }
      if (n == 0) peer_closed = true;
      break;
    }
    return any;
  }

  // Polls until nothing moves.
  void settle() {
    for (int guard = 0; guard < 10000; ++guard) {
      bool progress = srv.poll(0) > 0;
      if (complete_pending()) progress = true;
      if (reading && read_some()) progress = true;
      if (!progress) break;
    }
  }

  // Writes all of it (unless the server has gone); false when the server stopped taking bytes.
  bool write_all(const char* p, size_t n) {
    size_t pos = 0;
    int stuck = 0;
    while (pos < n) {
      ssize_t w = ::send(fd, p + pos, n - pos, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w > 0) {
        pos += size_t(w);
        stuck = 0;
        continue;
      }
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        settle();
        // A server that stopped reading (backpressure) while this client does not read either:
        // nothing can move. A real client would wait; this one gives up writing.
        if (++stuck > 50) return false;
        continue;
      }
      return false;  // EPIPE / ECONNRESET: the server closed
    }
    return true;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 6) return 0;
  const unsigned mode = data[0];
  const size_t nsizes = data[1] & 15;
  if (size < 6 + nsizes) return 0;
  const uint8_t* sizes = data + 6;
  const char* p = reinterpret_cast<const char*>(data + 6 + nsizes);
  const size_t n = size - 6 - nsizes;
  const bool pending = mode & 1;
  const bool do_sweep = mode & 8, do_shutdown = mode & 16, lazy_reader = mode & 32;

  fs::Config cfg;
  cfg.limits = pick_limits(mode >> 1, data + 2);
  if (do_sweep) {
    cfg.header_timeout_ms = cfg.keepalive_timeout_ms = cfg.body_timeout_ms = cfg.write_timeout_ms = 0;
    cfg.body_min_rate = 0;
  }
  cfg.linger_ms = 0;
  // HTTP/1.1 only: the responses are compared with a bare http::Connection's (an input starting
  // with the h2 preface would otherwise switch to HTTP/2, which http2_fuzz covers).
  cfg.http2 = false;
  auto sh = std::make_shared<Shared>();
  const fh::Limits lim = cfg.limits;  // (outlives srv: the dispatchers read it)
  fs::Server srv(cfg, [&](const std::string&, int) { return std::make_unique<ServerEcho>(lim, pending, sh); });

  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) die("socketpair");
  srv.adopt(sv[0], "", 0);
  Client cl{srv, sh, sv[1]};
  cl.reading = !lazy_reader;

  size_t pos = 0, k = 0;
  bool writing = true;
  while (pos < n && writing) {
    size_t take = nsizes ? size_t(sizes[k++ % nsizes]) + 1 : n;
    if (take > n - pos) take = n - pos;
    writing = cl.write_all(p + pos, take);
    pos += take;
    cl.settle();
    if (pos >= n / 2 && pos - take < n / 2) {  // once, half way
      if (do_sweep) {
        srv.sweep();
        cl.settle();
      }
      if (do_shutdown) {
        srv.begin_shutdown();
        cl.settle();
      }
    }
  }
  cl.reading = true;
  cl.settle();
  ::shutdown(cl.fd, SHUT_WR);
  for (int i = 0; i < 200 && srv.connections() > 0; ++i) {
    cl.settle();
    if (srv.connections() > 0) srv.sweep();  // linger_ms = 0: a lingering connection ends here
  }
  cl.settle();
  if (srv.connections() != 0) die("the server kept the connection after the client's EOF");
  cl.read_some();
  ::close(cl.fd);
  if (!sh->waiting.empty()) {
    // Only possible when the connection went away first (dropped late response).
    if (sh->link && sh->link->conn) die("a pending response was never completed");
  }

  std::vector<Resp> got = parse_output(cl.got, sh->handled);
  if (!do_sweep && !do_shutdown && writing && pos == n) {
    // Reference: the same bytes fed to a bare Connection, whole, then EOF.
    Session ref(cfg.limits, pending, false);
    ref.data(p, n);
    ref.end();
    ref.finish();
    std::vector<Resp> want = parse_output(ref.sent, ref.disp.handled);
    if (normalized(got) != normalized(want))
      die("server and bare connection answered differently", "server:\n" + normalized(got) + "\nconnection:\n" + normalized(want));
  }
  return 0;
}
