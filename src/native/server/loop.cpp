#include "server/loop.hpp"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/sockios.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <new>
#include <stdexcept>

#include "http/response.hpp"
#include "http2/session.hpp"
#include "server/conn.hpp"

namespace fasterapi::server {

// During a shutdown, how long a connection accepted but never used may still send its request.
constexpr uint32_t kFreshGraceMs = 1000;

uint64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1000000;
}

Server::Server(const Config& cfg, DispatcherFactory factory) : cfg_(cfg), factory_(std::move(factory)) {
  if (!http2::available()) cfg_.http2 = false;  // a build without nghttp2: HTTP/1.1 only
  if (cfg_.io_uring) {
    ring_open();  // throws with one line when io_uring cannot be used
  } else {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) throw std::runtime_error(std::string("epoll_create1: ") + strerror(errno));
  }
  spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

Server::~Server() {
  close_all();
  for (int fd : listen_fds_) ::close(fd);
  if (epfd_ >= 0) ::close(epfd_);
  if (spare_fd_ >= 0) ::close(spare_fd_);
}

int Server::listen(const std::string& host, int port, bool reuse_port, int backlog) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0) throw std::runtime_error("getaddrinfo(" + host + "): " + gai_strerror(rc));
  int fd = -1;
  std::string err = "no address";
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      err = strerror(errno);
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuse_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, backlog) == 0) break;
    err = strerror(errno);
    ::close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) throw std::runtime_error("cannot listen on " + host + ":" + service + ": " + err);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  int bound = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                             : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  listen_fds_.push_back(fd);
  if (ring_) {
    ring_listen(fd);
  } else {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
  }
  return bound;
}

int Server::listen_fd(int fd) {
  int type = 0, accepting = 0;
  socklen_t len = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0)
    throw std::runtime_error("fd " + std::to_string(fd) + ": not a socket: " + strerror(errno));
  len = sizeof accepting;
  if (type != SOCK_STREAM || getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) != 0 || !accepting)
    throw std::runtime_error("fd " + std::to_string(fd) + ": not a listening stream socket");
  int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (own < 0) throw std::runtime_error(std::string("dup: ") + strerror(errno));
  int flags = fcntl(own, F_GETFL);
  if (flags < 0 || fcntl(own, F_SETFL, flags | O_NONBLOCK) != 0) {
    int err = errno;
    ::close(own);
    throw std::runtime_error(std::string("fcntl(O_NONBLOCK): ") + strerror(err));
  }
  sockaddr_storage ss{};
  len = sizeof ss;
  int bound = 0;
  if (getsockname(own, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    if (ss.ss_family == AF_INET6)
      bound = ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
    else if (ss.ss_family == AF_INET)
      bound = ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = own;
  if (!ring_ && epoll_ctl(epfd_, EPOLL_CTL_ADD, own, &ev) != 0) {
    int err = errno;
    ::close(own);
    throw std::runtime_error(std::string("epoll_ctl(listen): ") + strerror(err));
  }
  listen_fds_.push_back(own);
  if (ring_) ring_listen(own);
  return bound;
}

// The connection's peer address, or (local) its own: the address it was accepted on, as uvicorn
// gives it in scope["server"] (a wildcard listener: the address the client reached).
static void peer_of(int fd, std::string& host, int& port, bool local = false) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  char buf[INET6_ADDRSTRLEN] = {0};
  port = 0;
  int rc = local ? getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len)
                 : getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (rc != 0) return;
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
    port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
    port = ntohs(a->sin6_port);
  }
  host = buf;
}

// A connection we cannot serve (over max_connections, out of fds, draining): answer 503 and
// close. What the client already sent is read first, so that the close is a FIN rather than a
// RST that could destroy the 503 before the client reads it.
static void refuse(int fd) {
  http::Buffer busy;
  http::write_error(busy, 503, true);
  char sink[4096];
  while (::recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0) {}
  (void)!::send(fd, busy.data(), busy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::shutdown(fd, SHUT_WR);
  while (::recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0) {}
  ::close(fd);
}

// Plain HTTP sent to the TLS port (OpenSSL recognised a request line instead of a ClientHello):
// a plain-text 400 says what went wrong, then the connection closes (drained first, as refuse()).
static void answer_plain_http(int fd) {
  http::Buffer bad;
  http::write_error(bad, 400, true);
  char sink[4096];
  while (::recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0) {}
  (void)!::send(fd, bad.data(), bad.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::shutdown(fd, SHUT_WR);
  while (::recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0) {}
}

void Server::accept_ready(int lfd) {
  for (int i = 0; i < 64; ++i) {  // bounded: let other connections run between bursts
    int fd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if ((errno == EMFILE || errno == ENFILE) && spare_fd_ >= 0) {
        // Out of file descriptors: the listening socket stays readable (level-triggered), so
        // returning would spin. Free the spare fd, accept one connection, refuse it, retake it.
        ::close(spare_fd_);
        spare_fd_ = -1;
        fd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
          refuse(fd);
          ++stats_.refused;
        }
        spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) continue;
      }
      // Still out of fds (the spare was taken by someone else): rather than spin on the
      // readable listening socket, stop watching it until the next sweep.
      if (errno == EMFILE || errno == ENFILE) pause_accept();
      return;  // EAGAIN (or a transient error): the next event tries again
    }
    accepted(fd);
  }
}

void Server::accepted(int fd, bool before_shutdown) {
  if ((draining_ && !before_shutdown) || conns_.size() >= cfg_.max_connections) {
    refuse(fd);
    ++stats_.refused;
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::string host;
  int port;
  peer_of(fd, host, port);
  try {
    adopt(fd, host, port);
  } catch (const std::bad_alloc&) {  // no memory for a new connection: refuse it, keep serving
    ::close(fd);
    ++stats_.refused;
  }
}

void Server::adopt(int fd, const std::string& host, int port) {
  // The kernel reuses fd numbers at once: a connection closed earlier in this poll may still
  // sit in the map (destroyed at its end). Nothing references it from here, so drop it now.
  if (auto old = conns_.find(fd); old != conns_.end()) conns_.erase(old);
  auto c = std::make_unique<Conn>(fd, factory_(host, port), cfg_.limits);
  Conn* cp = c.get();
  cp->last_activity = cp->accepted_at = now_ms();
  if (tls_) {
    try {
      cp->tls = std::make_unique<tls::Session>(tls_, fd);
    } catch (const std::exception&) {
      ::close(fd);  // out of memory in OpenSSL: refuse this one, keep serving the others
      ++stats_.refused;
      return;
    }
    cp->dispatcher->link->tls = true;
  }
  cp->dispatcher->link->conn = &cp->proto;
  cp->peer_host = host;
  cp->peer_port = port;
  peer_of(fd, cp->dispatcher->link->local_host, cp->dispatcher->link->local_port, true);
  cp->dispatcher->link->kick = [this, fd] {
    auto it = conns_.find(fd);
    if (it == conns_.end() || it->second->dead) return;
    Conn& conn = *it->second;
    flush(conn);
    if (!conn.dead && !conn.proto.pending()) {
      conn.proto.resume();
      track(conn, now_ms());
      flush(conn);
    }
  };
  conns_.emplace(fd, std::move(c));
  ++stats_.accepted;
  if (ring_) {
    ring_adopt(*cp);
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.fd = fd;
  cp->events = ev.events;
  epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
}

// Starts or stops the head and body deadline clocks from the protocol state. Called whenever
// input may have been processed (after reading, after a pending response resumed the input).
void Server::track(Conn& c, uint64_t now) {
  if (c.h2) {  // (h2 streams have no head/body clocks: flow control and the GOAWAY limits bound them)
    c.request_start = c.body_start = 0;
    return;
  }
  if (c.proto.in_request()) {
    if (!c.request_start) c.request_start = now;
  } else {
    c.request_start = 0;
  }
  if (c.proto.reading_body()) {
    if (!c.body_start) {
      c.body_start = now;
      c.body_bytes = 0;
    }
  } else {
    c.body_start = 0;
  }
}

bool Server::can_read(Conn& c) {
  if (c.h2) return c.linger_until || (!c.h2->done() && c.unsent() < cfg_.limits.output_high_water);
  return c.linger_until ||
         (!c.proto.read_paused() && !c.proto.should_close() && c.unsent() < cfg_.limits.output_high_water);
}

void Server::on_readable(Conn& c) {
  char buf[65536];
  // Bounded per event: one busy client cannot starve the others.
  for (int i = 0; i < 4 && !c.dead; ++i) {
    if (!can_read(c)) break;  // backpressure: leave bytes in the kernel until we can use them
    ssize_t n = receive(c, buf, sizeof buf);
    if (n > 0) {
      on_bytes(c, buf, size_t(n));
      if (c.dead) return;
      // A short read: the input is drained (a TLS read returns one record, at most 16 KiB).
      if (size_t(n) < (c.tls ? 16384 : sizeof buf)) break;
    } else if (n == 0) {
      on_peer_eof(c);
      return;
    } else {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
      if (c.tls && c.tls->plain_http()) answer_plain_http(c.fd);
      close_conn(c);
      return;
    }
  }
  if (!c.dead) update_interest(c);
}

// n bytes received (both backends): to the HTTP/2 session or the HTTP/1.1 parser, once the first
// bytes chose the protocol.
void Server::on_bytes(Conn& c, const char* buf, size_t n) {
  stats_.bytes_received += uint64_t(n);
  c.last_activity = now_ms();
  if (c.linger_until) return;  // closing: discard
  const bool fresh = !c.sniffed;
  if (fresh && !choose_protocol(c, buf, n)) {
    update_interest(c);  // (a partial preface: wait for the rest)
    return;
  }
  if (c.h2) {
    if (fresh) {  // chosen now: c.sniff holds the bytes for the session (preface, frames)
      std::string first;
      first.swap(c.sniff);
      if (!first.empty()) c.h2->on_data(first.data(), first.size());
    } else {
      c.h2->on_data(buf, n);
    }
    // Accepted before a shutdown: the streams of its first bytes are served, then GOAWAY (as
    // an HTTP/1.1 connection's first request is answered with Connection: close).
    if (draining_ && !c.h2->draining()) c.h2->shutdown();
    flush(c);
    return;
  }
  std::string first;  // HTTP/1.1 after all: the bytes held while sniffing, with these
  const char* data = buf;
  if (!c.sniff.empty()) {
    first.swap(c.sniff);
    data = first.data();
    n = first.size();
  }
  bool had_body = c.proto.reading_body();
  if (draining_ && !c.proto.draining()) {
    // A connection accepted before the shutdown whose first request arrives now: it is
    // served, with "Connection: close". (set_draining() on an empty input stops reading,
    // so it is marked once its first byte is in; verdicts do not depend on the split.)
    c.proto.on_data(data, 1);
    c.proto.set_draining();
    if (n > 1) c.proto.on_data(data + 1, n - 1);
  } else {
    c.proto.on_data(data, n);
  }
  track(c, c.last_activity);
  if (c.proto.reading_body()) {
    if (!had_body) {
      c.body_start = c.last_activity;
      c.body_bytes = 0;
    }  // a new body
    c.body_bytes += n;
  }
  flush(c);
}

// The client's FIN (both backends).
void Server::on_peer_eof(Conn& c) {
  if (c.linger_until || c.h2) {
    close_conn(c);
    return;
  }
  if (!c.sniff.empty()) {  // EOF inside what could have been the preface: it is HTTP/1.1
    std::string first;
    first.swap(c.sniff);
    c.proto.on_data(first.data(), first.size());
  }
  c.proto.on_eof();
  flush(c);
  if (!c.dead && !c.proto.pending() && c.all_sent()) close_conn(c);
}

// The socket's reads and writes: through the TLS session when the connection has one.
ssize_t Server::receive(Conn& c, char* buf, size_t n) {
  return c.tls ? c.tls->receive(buf, n) : ::recv(c.fd, buf, n, 0);
}

// Output with a body referenced rather than copied (Buffer::attach): head and body in one sendmsg.
static ssize_t send_with_attached(int fd, const http::Buffer& out) {
  std::string_view a = out.attached();
  iovec v[2] = {{const_cast<char*>(out.data()), out.size()}, {const_cast<char*>(a.data()), a.size()}};
  msghdr m{};
  m.msg_iov = out.size() ? v : v + 1;
  m.msg_iovlen = out.size() ? 2 : 1;
  return ::sendmsg(fd, &m, MSG_NOSIGNAL);
}

ssize_t Server::transmit(Conn& c, const http::Buffer& out) {
  if (c.tls) {  // one record at a time; own bytes first, then attached ones (consume() spans both)
    std::string_view a = out.attached();
    return out.size() ? c.tls->transmit(out.data(), out.size()) : c.tls->transmit(a.data(), a.size());
  }
  return out.attached().empty() ? ::send(c.fd, out.data(), out.size(), MSG_NOSIGNAL) : send_with_attached(c.fd, out);
}

// Writes the connection's output. Which way depends on where it is called from:
// - epoll, and io_uring outside its poll() (a response completed from asyncio's side: an async
//   task that awaited, a streamed chunk, a WebSocket message; sweep()'s 408): send()/sendmsg()
//   here and now, as many as the socket takes.
// - io_uring inside poll(): deferred to the end of the tick (in_tick_), where ring_send() queues
//   one send SQE per connection; the tick's one io_uring_submit carries all of them with its
//   receives. The rest (a short send, output made meanwhile) follows the send's completion. This
//   covers the responses of the tick's requests and those of thread-pool handlers too (their
//   completions come back through the engine's hub fd, watch()ed: a poll in the ring).
void Server::flush(Conn& c) {
  if (in_tick_) {  // io_uring: sends are batched to the end of poll()
    ring_defer_flush(c);
    return;
  }
  if (c.sending()) return;  // io_uring: a send in flight; its completion goes on from here
  http::Buffer& out = c.out();
  if (!c.all_sent() && !c.write_since) c.write_since = now_ms();
  if (ring_tick_) {
    if (!ring_send(c)) {  // queued (or waiting for writability)
      update_interest(c);
      return;
    }
  }
  while (!c.all_sent()) {
    // (io_uring: what a short ring send left goes first)
    http::Buffer& b = c.tx && !c.tx->wire.empty() ? c.tx->wire : out;
    ssize_t n = transmit(c, b);
    if (n > 0) {
      stats_.bytes_sent += uint64_t(n);
      b.consume(size_t(n));
      c.last_activity = c.write_since = now_ms();
      c.outq = -1;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      c.blocked = true;
      break;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      close_conn(c);
      return;
    }
  }
  if (c.all_sent()) {
    c.blocked = false;
    c.write_since = 0;
    out.shrink(64 * 1024);
    if (c.should_close() && !c.pending() && !c.linger_until) {
      start_linger(c);
      return;
    }
    if (c.h2) {  // more frames (responses progressed, the windows opened)
      c.h2->pump();
      if (!out.empty() || c.h2->done()) {
        flush(c);
        return;
      }
      update_interest(c);
      return;
    }
    // Output drained below the mark: handle requests that were waiting in the input buffer.
    if (!c.proto.pending() && !c.proto.should_close()) {
      size_t before = out.size();
      c.proto.resume();
      track(c, now_ms());
      if (out.size() != before) {
        flush(c);
        return;
      }
    }
  }
  update_interest(c);
}

// After a response that ends the connection: stop writing, read and discard what the client
// still sends for a moment, so our close does not turn into a RST that destroys the response.
void Server::start_linger(Conn& c) {
  if (c.tls) c.tls->close_notify();
  ::shutdown(c.fd, SHUT_WR);
  c.linger_until = now_ms() + cfg_.linger_ms;
  update_interest(c);
}

void Server::update_interest(Conn& c) {
  if (c.dead) return;
  if (ring_) {
    ring_interest(c);
    return;
  }
  // Not reading (a handler pending, output above the mark): no EPOLLIN and no EPOLLRDHUP, both
  // level-triggered, else a peer that half-closed meanwhile would wake every poll (a busy
  // loop). A reset or fully closed peer still reports EPOLLHUP/EPOLLERR, which are always on.
  uint32_t want = 0;
  if (can_read(c)) want |= EPOLLIN | EPOLLRDHUP;
  if (!c.all_sent() && !c.linger_until) want |= EPOLLOUT;
  if (c.tls && c.tls->receive_wants_write()) want |= EPOLLOUT;  // a handshake flight to finish
  if (want != c.events) {
    epoll_event ev{};
    ev.events = want;
    ev.data.fd = c.fd;
    epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd, &ev);
    c.events = want;
  }
}

// A connection given up on with output still queued (write timeout): RST instead of FIN, so the
// kernel drops the unsent bytes now instead of keeping an orphan socket that probes a peer
// which never reads.
void Server::abort_conn(Conn& c) {
  if (c.dead) return;
  linger lg{1, 0};
  setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close_conn(c);
}

void Server::close_conn(Conn& c) {
  if (c.dead) return;
  c.dead = true;
  c.dispatcher->link->conn = nullptr;  // a late response for it is dropped
  if (ring_)
    ring_forget(c);  // its receive is cancelled (it keeps the socket open until then)
  else
    epoll_ctl(epfd_, EPOLL_CTL_DEL, c.fd, nullptr);
  if (c.sending())
    ring_orphan(c);  // a send SQE still reads its buffer: the ring closes the fd at its completion
  else
    ::close(c.fd);
  ++stats_.closed;
  doomed_.push_back(c.fd);
}

void Server::destroy(int fd) {
  auto it = conns_.find(fd);
  if (it != conns_.end() && it->second->dead) conns_.erase(it);  // (a live one reuses the fd)
}

void Server::watch(int fd, std::function<void()> on_ready) {
  unwatch(fd);
  if (ring_) {
    watches_.emplace_back(fd, std::move(on_ready));
    ring_watch(fd);
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0)
    throw std::runtime_error(std::string("epoll_ctl(watch): ") + strerror(errno));
  watches_.emplace_back(fd, std::move(on_ready));
}

void Server::unwatch(int fd) {
  for (size_t i = 0; i < watches_.size(); ++i)
    if (watches_[i].first == fd) {
      if (ring_)
        ring_unwatch(fd);
      else
        epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
      watches_.erase(watches_.begin() + long(i));
      return;
    }
}

int Server::poll(int timeout_ms) {
  if (ring_) return ring_poll(timeout_ms);
  epoll_event events[256];
  int n = epoll_wait(epfd_, events, 256, timeout_ms);
  for (int i = 0; i < n; ++i) {
    int fd = events[i].data.fd;
    bool is_listen = false;
    for (int l : listen_fds_)
      if (l == fd) is_listen = true;
    if (is_listen) {
      accept_ready(fd);
      continue;
    }
    if (!watches_.empty()) {
      std::function<void()> cb;
      for (auto& w : watches_)
        if (w.first == fd) cb = w.second;
      if (cb) {
        cb();
        continue;
      }
    }
    auto it = conns_.find(fd);
    if (it == conns_.end() || it->second->dead) continue;
    Conn& c = *it->second;
    uint32_t ev = events[i].events;
    // Out of memory while serving one connection closes that connection, never the process.
    try {
      if (ev & EPOLLOUT) flush(c);
      if (c.dead) continue;
      if ((ev & EPOLLOUT) && c.tls && c.tls->receive_wants_write()) on_readable(c);
      if (c.dead) continue;
      if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        if ((ev & (EPOLLHUP | EPOLLERR)) && !(ev & EPOLLIN)) {
          close_conn(c);
          continue;
        }
        on_readable(c);
      }
    } catch (const std::bad_alloc&) { abort_conn(c); }
  }
  for (int fd : doomed_) destroy(fd);
  doomed_.clear();
  return n < 0 ? 0 : n;
}

void Server::pause_accept() {
  for (int lfd : listen_fds_) {
    if (ring_) continue;  // io_uring: the multishot accept is not rearmed until the next sweep
    epoll_event ev{};
    ev.events = 0;
    ev.data.fd = lfd;
    epoll_ctl(epfd_, EPOLL_CTL_MOD, lfd, &ev);
  }
  accept_paused_ = true;
}

void Server::sweep() {
  uint64_t now = now_ms();
  if (accept_paused_) {  // out of fds at the last accept: take a spare again and retry
    accept_paused_ = false;
    if (spare_fd_ < 0) spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    for (int lfd : listen_fds_) {
      if (ring_) {
        ring_listen(lfd);
        continue;
      }
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = lfd;
      epoll_ctl(epfd_, EPOLL_CTL_MOD, lfd, &ev);
    }
  }
  for (auto& [fd, cp] : conns_) {
    Conn& c = *cp;
    if (c.dead) continue;
    if (c.linger_until) {
      if (now >= c.linger_until) close_conn(c);
      continue;
    }
    if (c.tls && c.tls->handshaking()) {
      // The handshake is part of the head: it must end within the head deadline from the
      // accept, however slowly its bytes trickle in (a stalled or garbage handshake is closed).
      uint32_t allowed = draining_ ? kFreshGraceMs : cfg_.header_timeout_ms;
      if (now - c.accepted_at >= allowed) {
        ++stats_.timeouts;
        close_conn(c);
      }
      continue;
    }
    if (c.h2) {
      sweep_h2(c, now);
      continue;
    }
    // A handler is running: its time is its own (but a body it streams in is still the client's to
    // send, under the body deadline; once that fired, the handler gets a bounded time to answer).
    if (c.proto.pending() && !c.proto.reading_body()) {
      if (c.answer_until && now >= c.answer_until) close_conn(c);
      continue;
    }
    if (!c.all_sent() && !c.sending()) {
      // Unsent output: the client must keep reading. Progress is a send(), or the kernel send
      // queue shrinking (the client acknowledged bytes: it reads, if slowly; send() only resumes
      // once a third of a large send buffer is free). Input the client keeps sending does not
      // extend this deadline. (A ring send in flight is progress being made: its completion
      // waits for the next poll(); no ioctl for it.)
      if (!c.write_since) c.write_since = now;
      int q = 0;
      if (ioctl(c.fd, SIOCOUTQ, &q) == 0) {
        if (c.outq >= 0 && q < c.outq) c.write_since = now;
        c.outq = q;
      }
      if (now - c.write_since >= cfg_.write_timeout_ms) {
        ++stats_.timeouts;
        abort_conn(c);
        continue;
      }
    }
    if (!can_read(c)) {
      if (c.proto.should_close() && c.all_sent()) {
        close_conn(c);  // (flush lingers in this state; never left open)
      } else {
        // Our own backpressure (output above the mark): what the client sent meanwhile waits
        // in the kernel, so the head/body clocks restart when reading resumes.
        c.request_start = c.body_start = 0;
      }
      continue;
    }
    if (c.proto.upgraded()) continue;  // a WebSocket: no request deadlines, no idle timeout
    track(c, now);
    if (c.body_start) {
      uint64_t rate = cfg_.body_min_rate ? cfg_.body_min_rate : 1;
      uint64_t allowed = cfg_.body_timeout_ms + c.body_bytes * 1000 / rate;
      if (now - c.body_start >= allowed) {
        ++stats_.timeouts;
        c.proto.fail(408);
        flush(c);
        if (c.proto.pending()) {
          // A streamed body: its handler was dispatched and is told through its reader; its
          // answer (the bridge sends the 408 then) is the last one, then the connection closes.
          c.answer_until = now + cfg_.body_timeout_ms;
        } else if (!c.dead && !c.linger_until) {
          close_conn(c);
        }
      }
      continue;
    }
    if (c.request_start) {
      if (now - c.request_start >= cfg_.header_timeout_ms) {
        ++stats_.timeouts;
        c.proto.fail(408);
        flush(c);
        if (!c.dead && !c.linger_until) close_conn(c);
      }
      continue;
    }
    if (!c.all_sent()) continue;  // the write deadline applies
    uint32_t idle = cfg_.keepalive_timeout_ms;
    if (draining_) idle = c.proto.draining() ? 0 : kFreshGraceMs;
    if (now - c.last_activity >= idle) close_conn(c);
  }
  for (int fd : doomed_) destroy(fd);
  doomed_.clear();
}

void Server::begin_shutdown() {
  if (draining_) return;
  draining_ = true;
  for (int fd : listen_fds_) {
    if (ring_)
      ring_unlisten(fd);
    else
      epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
  }
  listen_fds_.clear();
  for (auto& [fd, cp] : conns_) {
    Conn& c = *cp;
    if (c.dead) continue;
    if (c.h2) {  // GOAWAY(NO_ERROR): open streams finish, new ones are refused
      c.h2->shutdown();
      flush(c);
      continue;
    }
    if (!c.sniffed && !c.sniff.empty()) continue;  // (a preface arriving: the fresh grace applies)
    bool idle = !c.proto.pending() && !c.proto.in_request() && c.all_sent() && !c.linger_until;
    // Idle and never used: its first request may be on the wire right now (the client just
    // connected). It gets kFreshGraceMs to arrive (then it is answered with Connection: close);
    // an idle keep-alive connection that has served requests is closed at once.
    if (idle && c.proto.requests_served() == 0 && !c.proto.should_close()) continue;
    c.proto.set_draining();
    if (c.proto.upgraded())
      flush(c);  // its close frame (1001), then the connection closes
    else if (idle)
      close_conn(c);
  }
  for (int fd : doomed_) destroy(fd);
  doomed_.clear();
}

// The protocol of a connection, from its first bytes (and ALPN): HTTP/2 when ALPN chose h2 or
// the bytes are the client preface, else HTTP/1.1. false: not decided yet (the bytes so far are
// a prefix of the preface; they are kept in c.sniff).
bool Server::choose_protocol(Conn& c, const char* data, size_t n) {
  if (!cfg_.http2) {
    c.sniffed = true;
    return true;
  }
  if (!(c.tls && c.tls->alpn_h2())) {
    size_t have = c.sniff.size();
    size_t cmp = std::min(n, http2::kPreface.size() - have);
    if (http2::kPreface.compare(have, cmp, std::string_view(data, cmp)) != 0) {
      c.sniffed = true;  // HTTP/1.1, unless its first request asks for h2c (plain connections only)
      if (have) c.sniff.append(data, n);
      std::string request, settings;
      size_t used = 0;
      std::string_view first = have ? std::string_view(c.sniff) : std::string_view(data, n);
      if (!c.tls && !draining_ && http2::parse_h2c_upgrade(first, cfg_.limits.max_head, request, settings, used)) {
        std::string rest(first.substr(used));
        try {
          start_h2(c, settings, std::move(request));
        } catch (const std::invalid_argument&) {
          return true;  // a bad HTTP2-Settings: served as HTTP/1.1, the upgrade ignored
        }
        c.sniff = std::move(rest);  // (what followed the request: the client preface, frames)
      }
      return true;
    }
    if (have + n < http2::kPreface.size()) {
      c.sniff.append(data, n);
      return false;
    }
    c.sniff.append(data, n);  // (all of it: the session reads the preface from here)
  } else {
    c.sniff.assign(data, n);  // ALPN: the first bytes are the session's
  }
  c.sniffed = true;
  start_h2(c, {}, {});
  return true;
}

void Server::start_h2(Conn& c, std::string_view settings, std::string upgrade_request) {
  int fd = c.fd;
  std::shared_ptr<ConnLink> base = c.dispatcher->link;
  std::string host = c.peer_host;
  int port = c.peer_port;
  auto make = [this, base, host, port] {
    std::unique_ptr<ConnectionDispatcher> d = factory_(host, port);
    d->link->local_host = base->local_host;
    d->link->local_port = base->local_port;
    d->link->tls = base->tls;
    d->link->http2 = true;
    return d;
  };
  auto kick = [this, fd] {
    auto it = conns_.find(fd);
    if (it == conns_.end() || it->second->dead || !it->second->h2) return;
    flush(*it->second);
  };
  c.h2 = std::make_unique<http2::Session>(cfg_.limits, cfg_.h2, make, kick, settings, std::move(upgrade_request));
}

void Server::sweep_h2(Conn& c, uint64_t now) {
  if (!c.all_sent()) {        // unsent output: the client must keep reading (as for HTTP/1.1)
    if (c.sending()) return;  // (its completion waits for the next poll())
    if (!c.write_since) c.write_since = now;
    int q = 0;
    if (ioctl(c.fd, SIOCOUTQ, &q) == 0) {
      if (c.outq >= 0 && q < c.outq) c.write_since = now;
      c.outq = q;
    }
    if (now - c.write_since >= cfg_.write_timeout_ms) {
      ++stats_.timeouts;
      abort_conn(c);
    }
    return;
  }
  // a window that never opens, a header block never finished, a body that stopped
  c.h2->sweep(now, cfg_.write_timeout_ms, cfg_.header_timeout_ms, cfg_.body_timeout_ms);
  if (c.h2->dirty()) c.h2->pump();
  flush(c);
  if (c.dead || c.linger_until) return;
  if (c.h2->idle()) {
    uint32_t idle = draining_ ? 0 : cfg_.keepalive_timeout_ms;
    if (now - c.last_activity >= idle) close_conn(c);
  }
}

void Server::close_all() {
  for (auto& [fd, cp] : conns_) close_conn(*cp);
  conns_.clear();
  doomed_.clear();
}

}  // namespace fasterapi::server
