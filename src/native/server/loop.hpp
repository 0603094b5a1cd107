// The socket loop: epoll or io_uring (Config::io_uring; loop_uring.cpp), non-blocking sockets,
// per-connection buffers, deadlines, backpressure, graceful drain. It owns no thread: its owner
// calls poll() when epoll_fd() is readable (and sweep() periodically), so it can be driven from an
// asyncio loop or from a plain C++ loop. The connection logic (deadlines, backpressure, linger,
// drain) is shared; only accept, receive, the wait for writability and the event wait differ.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "http/connection.hpp"
#include "http2/session.hpp"
#include "server/link.hpp"
#include "tls/tls.hpp"

namespace fasterapi::server {

struct Config {
  http::Limits limits;
  uint32_t max_connections = 10000;    // beyond: 503 and close
  uint32_t header_timeout_ms = 10000;  // whole head must arrive within this
  uint32_t keepalive_timeout_ms = 5000;
  uint32_t body_timeout_ms = 10000;   // body: this, plus 1 s for each body_min_rate bytes received
  uint32_t body_min_rate = 1024;      // bytes per second
  uint32_t write_timeout_ms = 10000;  // unsent output making no progress
  uint32_t linger_ms = 2000;          // after a close-delimited response, drain input this long
  bool http2 = true;                  // HTTP/2: h2 by ALPN, h2c by prior knowledge or Upgrade
  http2::Settings h2;
  // The io_uring backend (multishot accept and receive into a provided-buffer ring, one
  // submission per poll()); plain connections only (TLS stays on epoll). The constructor throws
  // std::runtime_error with one line when this build or the kernel cannot (uring_unavailable()).
  bool io_uring = false;
};

// Why io_uring cannot be used here (this build has no liburing, the kernel is older than 6.0 or
// refuses io_uring_setup, e.g. a seccomp profile or kernel.io_uring_disabled); empty: it can.
std::string uring_unavailable();

struct Stats {
  uint64_t accepted = 0, refused = 0, closed = 0, timeouts = 0, requests = 0;
  uint64_t bytes_received = 0, bytes_sent = 0;  // socket payload, for the metrics (server/metrics.hpp)
  // io_uring: sends queued as SQEs, and the submissions (io_uring_enter) of the ticks that queued
  // anything: their ratio is the sends batched per system call (the metrics show both).
  uint64_t ring_sends = 0, ring_submits = 0;
};

using DispatcherFactory = std::function<std::unique_ptr<ConnectionDispatcher>(const std::string& host, int port)>;

class Server {
 public:
  Server(const Config& cfg, DispatcherFactory factory);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens (SO_REUSEADDR, SO_REUSEPORT when reuse_port). Returns the bound port.
  // Throws std::runtime_error with errno text on failure.
  int listen(const std::string& host, int port, bool reuse_port, int backlog = 1024);
  // Serves an existing listening stream socket (bound and listened on by the owner: a supervisor
  // that shares one socket among its workers, systemd's socket activation, a unix socket). The
  // Server accepts on a duplicate of fd (made non-blocking) and closes only that duplicate.
  // Returns the bound TCP port (0 for a unix socket). Throws std::runtime_error when fd is not a
  // listening stream socket.
  int listen_fd(int fd);
  // The fd to wait on for readability: the epoll fd, or the io_uring ring's fd (readable when
  // completions wait).
  int epoll_fd() const;
  bool uses_io_uring() const { return ring_ != nullptr; }
  // Watch one more fd of the owner's (an eventfd or timerfd that other threads or timers make
  // readable): poll() calls on_ready() when it is. Not a connection; never closed by the Server.
  void watch(int fd, std::function<void()> on_ready);
  void unwatch(int fd);
  // Serves an already connected non-blocking stream socket (e.g. one end of a socketpair, as the
  // fuzz target does) exactly as an accepted one; the Server owns and closes fd from now on.
  void adopt(int fd, const std::string& host, int port);
  // Handles ready events, waiting at most timeout_ms (0: do not block). Returns events handled.
  int poll(int timeout_ms);
  // Enforces deadlines; cheap, call every ~100-250 ms.
  void sweep();
  // Stop accepting; close idle connections; others close after their current response.
  void begin_shutdown();
  // Close everything now (the hard deadline).
  void close_all();
  // TLS for connections accepted from now on (null: plain). Open connections keep the context
  // they started with, so a certificate reload drops none of them.
  void set_tls(std::shared_ptr<tls::Context> ctx) { tls_ = std::move(ctx); }
  bool tls() const { return tls_ != nullptr; }
  size_t connections() const { return conns_.size(); }
  bool listening() const { return !listen_fds_.empty(); }
  const Stats& stats() const { return stats_; }

  struct Conn;

 private:
  void accept_ready(int lfd);
  void on_readable(Conn& c);
  void flush(Conn& c);
  void update_interest(Conn& c);
  void close_conn(Conn& c);
  void abort_conn(Conn& c);           // close with RST (SO_LINGER 0): unsent output is dropped
  void track(Conn& c, uint64_t now);  // start/stop the head and body deadline clocks
  bool can_read(Conn& c);
  // A new connection from accept: refused or adopted. before_shutdown: the kernel accepted it
  // before begin_shutdown() cancelled the accept (io_uring), so it is served as one accepted then.
  void accepted(int fd, bool before_shutdown = false);
  void on_bytes(Conn& c, const char* buf, size_t n);
  void on_peer_eof(Conn& c);
  void pause_accept();
  void destroy(int fd);
  void start_linger(Conn& c);
  bool choose_protocol(Conn& c, const char* data, size_t n);
  void start_h2(Conn& c, std::string_view settings, std::string upgrade_request);
  void sweep_h2(Conn& c, uint64_t now);
  ssize_t receive(Conn& c, char* buf, size_t n);  // TLS when the connection has a session
  ssize_t transmit(Conn& c, const http::Buffer& out);

  // The io_uring backend (loop_uring.cpp); null: epoll.
  struct Ring;
  struct RingDeleter {
    void operator()(Ring* r) const;
  };
  std::unique_ptr<Ring, RingDeleter> ring_;
  bool in_tick_ = false;    // inside the io_uring poll(): flushes are batched to its end
  bool ring_tick_ = false;  // inside the io_uring poll() (its end too): sends go as SQEs
  void ring_open();
  void ring_listen(int lfd);
  void ring_unlisten(int lfd);
  void ring_adopt(Conn& c);
  void ring_interest(Conn& c);
  void ring_forget(Conn& c);
  void ring_defer_flush(Conn& c);
  bool ring_send(Conn& c);
  void ring_orphan(Conn& c);
  void ring_watch(int fd);
  void ring_unwatch(int fd);
  int ring_poll(int timeout_ms);

  Config cfg_;
  DispatcherFactory factory_;
  int epfd_ = -1;
  std::vector<int> listen_fds_;
  int spare_fd_ = -1;           // released to accept (and refuse) a connection when out of fds
  bool accept_paused_ = false;  // out of fds even so: listening sockets unwatched until the next sweep
  std::vector<std::pair<int, std::function<void()>>> watches_;
  std::unordered_map<int, std::unique_ptr<Conn>> conns_;
  std::vector<int> doomed_;  // fds to destroy at the end of this poll (never mid-dispatch)
  bool draining_ = false;
  std::shared_ptr<tls::Context> tls_;
  Stats stats_;
};

uint64_t now_ms();

}  // namespace fasterapi::server
