// The io_uring backend of the socket loop (Config::io_uring): what differs from epoll is how bytes
// come in and when the loop wakes; the connection logic is loop.cpp's.
//
// - Accept: one multishot accept per listening socket.
// - Receive: one multishot receive per connection into a ring of provided buffers (kBufs x
//   kBufSize, shared by all connections); each completion's bytes go to the connection's parser
//   and the buffer returns to the ring at once. Reading paused (a pending response, output above
//   the high-water mark): bytes that were already in flight are held (Conn::held) and the receive
//   is cancelled, so the rest waits in the kernel as with epoll; held bytes are fed first when
//   reading resumes.
// - Send: flushes requested during poll() are batched to its end (responses to the tick's requests,
//   pipelined or not, go out together), where each connection's output becomes one send SQE
//   (IORING_OP_SEND; IORING_OP_SENDMSG with two iovecs when the response references a body it did
//   not copy), MSG_DONTWAIT | MSG_NOSIGNAL, submitted with the tick's receives: a tick costs one
//   io_uring_enter instead of one send() per connection. The SQE's bytes are taken from the
//   connection's output whole (RingTx, a swap: no copy) and left untouched until its completion;
//   at most one send per connection is in flight, output made meanwhile waits in out() for it.
//   The completion: all sent, the next output (or the end of the response: linger, resume the
//   pipelined requests); short, the rest as a new SQE; -EAGAIN, a wait for writability in a small
//   epoll set (EPOLLOUT, one-shot) whose fd is polled through the ring (an io_uring poll always
//   reports POLLRDHUP, so a POLLOUT poll on a half-closed client's socket would complete at once,
//   again and again), then a send SQE again; an error (EPIPE, ECONNRESET), the close. A connection
//   closed with a send in flight (an error, a deadline, the drain, close_all) hands the buffer to
//   the ring (orphans) and its fd is closed only at the completion: no SQE ever names an fd
//   number the kernel could have given to another socket or file meanwhile.
//   Output made outside poll() (from asyncio's side: an async task that awaited, a streamed chunk,
//   a WebSocket message) is written by send() at once, as with epoll (flush() in loop.cpp), unless
//   a ring send is in flight: then it follows that send's completion. (Thread-pool handlers'
//   responses come back through a watch()ed fd, inside poll(): they go as SQEs.)
// - One io_uring_submit per poll() for everything the tick queued (receives, sends, cancellations,
//   polls); none when nothing was queued (a multishot receive stays armed).
// - The owner waits on the ring's fd (readable when completions wait), as on the epoll fd.
// TLS connections are not served here: the Python side picks epoll for a TLS server.
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <new>
#include <stdexcept>
#include <unordered_map>

#include "server/conn.hpp"
#include "server/loop.hpp"

namespace fasterapi::server {

namespace {

constexpr unsigned kBufs = 256;        // provided buffers (a power of two)
constexpr size_t kBufSize = 8192;      // each: 2 MiB in all
constexpr unsigned kGroup = 0;         // the buffer group id
constexpr unsigned kEntries = 512;     // submission queue
constexpr unsigned kCqEntries = 4096;  // completion queue
constexpr unsigned kBatch = 256;       // completions taken at a time
constexpr uint32_t kPolled = 1;        // the serial of a listening socket's poll (0: its multishot accept)

enum Kind : uint64_t { kAccept = 1, kRecv = 2, kWritable = 3, kWatch = 4, kWake = 5, kCancel = 6, kSend = 7 };

uint64_t ud(Kind k, uint32_t serial, int fd) {
  return (uint64_t(k) << 56) | (uint64_t(serial & 0xffffff) << 32) | uint32_t(fd);
}
Kind kind_of(uint64_t u) { return Kind(u >> 56); }
uint32_t serial_of(uint64_t u) { return uint32_t(u >> 32) & 0xffffff; }
int fd_of(uint64_t u) { return int(uint32_t(u)); }

}  // namespace

std::string uring_unavailable() {
  static const std::string why = [] {
    utsname u{};
    int major = 0, minor = 0;
    if (uname(&u) == 0 && std::sscanf(u.release, "%d.%d", &major, &minor) == 2 && (major < 6))
      return std::string("io_uring needs Linux 6.0 or newer (multishot receive); this kernel is ") + u.release;
    io_uring ring;
    int rc = io_uring_queue_init(4, &ring, 0);
    if (rc < 0) return std::string("io_uring_setup: ") + strerror(-rc);
    io_uring_queue_exit(&ring);
    return std::string();
  }();
  return why;
}

struct Server::Ring {
  io_uring ring{};
  bool ring_ok = false;
  io_uring_buf_ring* br = nullptr;
  char* bufs = nullptr;
  bool batching = false;  // inside poll(): submit once at its end
  uint32_t next_serial = 1;
  std::vector<int> accepting;                      // listening fds with a multishot accept in the ring
  std::vector<std::pair<int, uint32_t>> flushes;   // (fd, serial): flush at the end of the tick
  std::vector<std::pair<int, uint32_t>> ready;     // (fd, serial): feed held input / rearm the receive
  std::unordered_map<int, uint32_t> watch_serial;  // watched fd -> its poll's serial
  bool wake_armed = false;
  int wfd = -1;  // epoll set of the connections waiting to write (EPOLLOUT | EPOLLONESHOT)
  bool wfd_armed = false;
  // Sends in flight of closed connections, by their SQE's user_data: the buffer and the fd are
  // kept until the completion (then the fd is closed).
  std::unordered_map<uint64_t, std::unique_ptr<RingTx>> orphans;
  uint64_t submits = 0;

  ~Ring() {
    if (ring_ok && !orphans.empty()) {
      // Their sends (MSG_DONTWAIT: never waiting in the kernel) completed at their submission;
      // take the completions so no buffer is freed under one.
      io_uring_submit(&ring);
      for (int i = 0; i < 100 && !orphans.empty(); ++i) {
        __kernel_timespec ts{0, 10 * 1000000LL};
        io_uring_cqe* cqe = nullptr;
        if (io_uring_wait_cqe_timeout(&ring, &cqe, &ts) != 0) continue;
        uint64_t data = cqe->user_data;
        io_uring_cqe_seen(&ring, cqe);
        if (kind_of(data) == kSend && orphans.erase(data)) ::close(fd_of(data));
      }
    }
    for (auto& o : orphans) ::close(fd_of(o.first));
    if (wfd >= 0) ::close(wfd);
    if (ring_ok) io_uring_queue_exit(&ring);
    if (br) munmap(br, kBufs * sizeof(io_uring_buf));
    if (bufs) munmap(bufs, kBufs * kBufSize);
  }
  uint32_t serial() {
    uint32_t s = next_serial++ & 0xffffff;
    if (!s) s = next_serial++ & 0xffffff;
    return s;
  }
  io_uring_sqe* sqe() {
    io_uring_sqe* s = io_uring_get_sqe(&ring);
    if (!s) {  // the queue is full: hand it to the kernel now
      submit();
      s = io_uring_get_sqe(&ring);
    }
    if (!s) throw std::bad_alloc();
    return s;
  }
  void submit() {
    ++submits;
    io_uring_submit(&ring);
  }
  void done() {  // outside poll(): what was queued goes now
    if (!batching && io_uring_sq_ready(&ring)) submit();
  }
  void cancel(uint64_t target) {
    io_uring_sqe* s = sqe();
    io_uring_prep_cancel64(s, target, 0);
    io_uring_sqe_set_data64(s, ud(kCancel, 0, 0));
  }
  void recycle(uint32_t flags) {
    if (!(flags & IORING_CQE_F_BUFFER)) return;
    unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
    io_uring_buf_ring_add(br, bufs + size_t(bid) * kBufSize, kBufSize, uint16_t(bid), io_uring_buf_ring_mask(kBufs), 0);
    io_uring_buf_ring_advance(br, 1);
  }
};

void Server::RingDeleter::operator()(Ring* r) const { delete r; }

int Server::epoll_fd() const { return ring_ ? ring_->ring.ring_fd : epfd_; }

void Server::ring_open() {
  std::string why = uring_unavailable();
  if (!why.empty()) throw std::runtime_error(why);
  auto r = std::unique_ptr<Ring, RingDeleter>(new Ring);
  io_uring_params p{};
  // COOP_TASKRUN: completions run as task work when this thread next enters the kernel (its
  // epoll_wait, a send), without interrupting it with an IPI for each one; TASKRUN_FLAG tells
  // io_uring_peek_batch_cqe() when such work waits. Measured (benchmarks/wire.py): without it a
  // non-pipelined GET /json took 13.5 server CPU-µs and ~5x the latency; with it 7.2-8.0, as epoll.
  p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  p.cq_entries = kCqEntries;
  int rc = io_uring_queue_init_params(kEntries, &r->ring, &p);
  if (rc < 0) throw std::runtime_error(std::string("io_uring_setup: ") + strerror(-rc));
  r->ring_ok = true;
  r->wfd = epoll_create1(EPOLL_CLOEXEC);
  if (r->wfd < 0) throw std::runtime_error(std::string("epoll_create1: ") + strerror(errno));
  void* mem = mmap(nullptr, kBufs * sizeof(io_uring_buf), PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem == MAP_FAILED) throw std::runtime_error(std::string("mmap: ") + strerror(errno));
  r->br = static_cast<io_uring_buf_ring*>(mem);
  io_uring_buf_ring_init(r->br);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(mem);
  reg.ring_entries = kBufs;
  reg.bgid = kGroup;
  rc = io_uring_register_buf_ring(&r->ring, &reg, 0);
  if (rc < 0) throw std::runtime_error(std::string("io_uring_register_buf_ring: ") + strerror(-rc));
  mem = mmap(nullptr, kBufs * kBufSize, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem == MAP_FAILED) throw std::runtime_error(std::string("mmap: ") + strerror(errno));
  r->bufs = static_cast<char*>(mem);
  for (unsigned i = 0; i < kBufs; ++i)
    io_uring_buf_ring_add(r->br, r->bufs + size_t(i) * kBufSize, kBufSize, uint16_t(i), io_uring_buf_ring_mask(kBufs),
                          int(i));
  io_uring_buf_ring_advance(r->br, kBufs);
  ring_ = std::move(r);
}

void Server::ring_listen(int lfd) {
  Ring& r = *ring_;
  for (int a : r.accepting)
    if (a == lfd) return;
  io_uring_sqe* s = r.sqe();
  io_uring_prep_multishot_accept(s, lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  io_uring_sqe_set_data64(s, ud(kAccept, 0, lfd));
  r.accepting.push_back(lfd);
  r.done();
}

void Server::ring_unlisten(int lfd) {
  Ring& r = *ring_;
  for (size_t i = 0; i < r.accepting.size(); ++i)
    if (r.accepting[i] == lfd) {
      r.cancel(ud(kAccept, 0, lfd));
      r.cancel(ud(kAccept, kPolled, lfd));
      r.accepting.erase(r.accepting.begin() + long(i));
      break;
    }
  r.done();
}

static void arm_recv(Server::Conn& c, io_uring_sqe* s) {
  io_uring_prep_recv_multishot(s, c.fd, nullptr, 0, 0);
  s->flags |= IOSQE_BUFFER_SELECT;
  s->buf_group = kGroup;
  io_uring_sqe_set_data64(s, ud(kRecv, c.serial, c.fd));
  c.recv_armed = true;
}

void Server::ring_adopt(Conn& c) {
  Ring& r = *ring_;
  c.serial = r.serial();
  arm_recv(c, r.sqe());
  r.done();
}

void Server::ring_interest(Conn& c) {
  if (c.dead) return;
  Ring& r = *ring_;
  if (can_read(c)) {
    if (!c.held.empty() || c.held_eof) {
      if (!c.ready_due) {  // fed at the end of the tick (never from inside a callback)
        c.ready_due = true;
        r.ready.emplace_back(c.fd, c.serial);
        if (!r.batching && !r.wake_armed) {  // outside poll(): make the ring fd readable
          io_uring_sqe* s = r.sqe();
          io_uring_prep_nop(s);
          io_uring_sqe_set_data64(s, ud(kWake, 0, 0));
          r.wake_armed = true;
        }
      }
    } else if (!c.recv_armed) {
      arm_recv(c, r.sqe());
    }
  }
  // (Not reading: the receive stays armed until bytes arrive while paused; then it is cancelled.)
  if (c.blocked && !c.out_armed && !c.linger_until && !c.all_sent() && !c.sending()) {
    epoll_event ev{};
    ev.events = EPOLLOUT | EPOLLONESHOT;
    ev.data.u64 = (uint64_t(c.serial) << 32) | uint32_t(c.fd);
    if (epoll_ctl(r.wfd, c.events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c.fd, &ev) == 0) {
      c.events = EPOLLOUT;  // registered in wfd
      c.out_armed = true;
    }
    if (!r.wfd_armed) {
      io_uring_sqe* s = r.sqe();
      io_uring_prep_poll_add(s, r.wfd, POLLIN);
      io_uring_sqe_set_data64(s, ud(kWritable, 0, r.wfd));
      r.wfd_armed = true;
    }
  }
  r.done();
}

void Server::ring_forget(Conn& c) {
  Ring& r = *ring_;
  if (c.recv_armed) r.cancel(ud(kRecv, c.serial, c.fd));
  if (c.events) epoll_ctl(r.wfd, EPOLL_CTL_DEL, c.fd, nullptr);  // (before the close: see ring_forget's caller)
  c.events = 0;
  c.recv_armed = c.out_armed = false;
  // The caller closes the fd next. An SQE of this tick naming it (a receive re-armed earlier in the
  // tick) must reach the kernel before that: submitted after the close, it would be issued on
  // whatever socket the kernel's multishot accept gave the same number meanwhile. So inside a tick
  // the queue goes now (one extra submission per connection closed, not per request).
  if (io_uring_sq_ready(&r.ring)) io_uring_submit(&r.ring);
}

void Server::ring_defer_flush(Conn& c) {
  if (c.flush_due || c.dead) return;
  c.flush_due = true;
  ring_->flushes.emplace_back(c.fd, c.serial);
}

// At the end of a tick (flush()): the connection's output as one send SQE, submitted with the
// tick. false: queued, or one is in flight, or the socket waits for writability (the completion or
// the writability goes on); true: nothing left to send.
bool Server::ring_send(Conn& c) {
  Ring& r = *ring_;
  if (!c.tx) c.tx = std::make_unique<RingTx>();
  RingTx& t = *c.tx;
  if (t.armed || c.out_armed) return false;
  if (t.wire.empty()) {
    http::Buffer& out = c.out();
    if (out.empty()) return true;
    // The whole output goes to the wire buffer (a swap: the emptied one it had comes back to be
    // written into); the response status the connection reads back stays with out().
    int status = out.last_status;
    std::swap(t.wire, out);
    out.last_status = status;
  }
  io_uring_sqe* s = r.sqe();
  std::string_view a = t.wire.attached();
  if (a.empty()) {
    io_uring_prep_send(s, c.fd, t.wire.data(), t.wire.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  } else {  // a body referenced, not copied: head and body in one SENDMSG (as send_with_attached)
    t.iov[0] = {t.wire.data(), t.wire.size()};
    t.iov[1] = {const_cast<char*>(a.data()), a.size()};
    t.msg = msghdr{};
    t.msg.msg_iov = t.wire.size() ? t.iov : t.iov + 1;
    t.msg.msg_iovlen = t.wire.size() ? 2 : 1;
    io_uring_prep_sendmsg(s, c.fd, &t.msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  io_uring_sqe_set_data64(s, ud(kSend, c.serial, c.fd));
  t.armed = true;
  ++stats_.ring_sends;
  return false;
}

// close_conn() with a send in flight: the ring keeps its buffer and closes the fd at its completion.
void Server::ring_orphan(Conn& c) { ring_->orphans.emplace(ud(kSend, c.serial, c.fd), std::move(c.tx)); }

void Server::ring_watch(int fd) {
  Ring& r = *ring_;
  uint32_t s = r.serial();
  r.watch_serial[fd] = s;
  io_uring_sqe* q = r.sqe();
  io_uring_prep_poll_add(q, fd, POLLIN);
  io_uring_sqe_set_data64(q, ud(kWatch, s, fd));
  r.done();
}

void Server::ring_unwatch(int fd) {
  Ring& r = *ring_;
  auto it = r.watch_serial.find(fd);
  if (it == r.watch_serial.end()) return;
  r.cancel(ud(kWatch, it->second, fd));
  r.watch_serial.erase(it);
  r.done();
}

int Server::ring_poll(int timeout_ms) {
  Ring& r = *ring_;
  r.batching = true;
  in_tick_ = ring_tick_ = true;

  if (timeout_ms > 0 && !io_uring_cq_ready(&r.ring)) {
    __kernel_timespec ts{timeout_ms / 1000, (timeout_ms % 1000) * 1000000LL};
    io_uring_cqe* cqe = nullptr;
    if (io_uring_sq_ready(&r.ring)) ++r.submits;
    io_uring_submit_and_wait_timeout(&r.ring, &cqe, 1, &ts, nullptr);
  }
  auto find = [this](int fd, uint32_t serial) -> Conn* {
    auto it = conns_.find(fd);
    if (it == conns_.end() || it->second->dead || it->second->serial != serial) return nullptr;
    return it->second.get();
  };
  struct Done {
    uint64_t data;
    int res;
    uint32_t flags;
  };
  Done done[kBatch];
  int handled = 0;
  for (int round = 0; round < 4; ++round) {
    io_uring_cqe* cqes[kBatch];
    unsigned n = io_uring_peek_batch_cqe(&r.ring, cqes, kBatch);
    for (unsigned i = 0; i < n; ++i) done[i] = {cqes[i]->user_data, cqes[i]->res, cqes[i]->flags};
    io_uring_cq_advance(&r.ring, n);
    for (unsigned i = 0; i < n; ++i) {
      const Done& d = done[i];
      int fd = fd_of(d.data);
      bool more = d.flags & IORING_CQE_F_MORE;
      switch (kind_of(d.data)) {
        case kAccept: {
          // Out of fds, a multishot accept fails at once, even with no connection waiting (it
          // takes the fd first). Then the listening socket is polled instead and accepted from
          // here as with epoll (the spare fd refuses one; still out: paused until the next sweep),
          // until an accept succeeds again.
          bool polled = serial_of(d.data) == kPolled;
          bool out_of_fds = false;
          if (polled) {
            uint64_t before = stats_.accepted;
            if (d.res > 0) accept_ready(fd);
            out_of_fds = stats_.accepted == before;
          } else if (d.res >= 0) {
            // (completed before a shutdown's cancellation reached the ring: served, with
            // Connection: close, as a connection epoll accepted just before the shutdown)
            accepted(d.res, true);
          } else if (d.res == -EMFILE || d.res == -ENFILE) {
            accept_ready(fd);
            out_of_fds = true;
          }
          if (!more || polled) {
            for (size_t k = 0; k < r.accepting.size(); ++k)
              if (r.accepting[k] == fd) {
                r.accepting.erase(r.accepting.begin() + long(k));
                bool listening = false;
                for (int l : listen_fds_) listening |= l == fd;
                if (listening && !accept_paused_ && !draining_) {
                  if (out_of_fds) {
                    io_uring_sqe* s = r.sqe();
                    io_uring_prep_poll_add(s, fd, POLLIN);
                    io_uring_sqe_set_data64(s, ud(kAccept, kPolled, fd));
                    r.accepting.push_back(fd);
                  } else {
                    ring_listen(fd);
                  }
                }
                break;
              }
          }
          break;
        }
        case kRecv: {
          Conn* c = find(fd, serial_of(d.data));
          if (!c) {
            r.recycle(d.flags);
            break;
          }
          if (!more) c->recv_armed = c->recv_cancel = false;
          try {
            if (d.res > 0) {
              const char* data = r.bufs + size_t(d.flags >> IORING_CQE_BUFFER_SHIFT) * kBufSize;
              if (!c->held.empty() || !can_read(*c)) {
                // Reading is paused: keep what was in flight, stop the receive (the rest stays in
                // the kernel, as with epoll).
                c->held.append(data, size_t(d.res));
                r.recycle(d.flags);
                if (c->recv_armed && !c->recv_cancel && !can_read(*c)) {
                  r.cancel(ud(kRecv, c->serial, c->fd));
                  c->recv_cancel = true;
                }
              } else {
                on_bytes(*c, data, size_t(d.res));
                r.recycle(d.flags);
              }
            } else if (d.res == 0) {
              if (!c->held.empty() || !can_read(*c))
                c->held_eof = true;  // noticed when reading resumes, as with epoll
              else
                on_peer_eof(*c);
            } else if (d.res != -ENOBUFS && d.res != -ECANCELED) {
              close_conn(*c);  // a reset, an error: as epoll's EPOLLERR/EPOLLHUP
            }
            // (-ENOBUFS: the buffers are all in use; rearmed below once this batch returned them)
            if (!c->dead) ring_interest(*c);
          } catch (const std::bad_alloc&) { abort_conn(*c); }
          break;
        }
        case kWritable: {
          r.wfd_armed = false;
          epoll_event evs[64];
          int k = epoll_wait(r.wfd, evs, 64, 0);
          for (int j = 0; j < k; ++j) {
            Conn* c = find(int(uint32_t(evs[j].data.u64)), uint32_t(evs[j].data.u64 >> 32));
            if (!c) continue;
            c->out_armed = false;
            try {
              flush(*c);  // (at the end of the tick)
            } catch (const std::bad_alloc&) { abort_conn(*c); }
          }
          if (!r.wfd_armed) {  // more waiting connections, or more events than taken: poll again
            io_uring_sqe* s = r.sqe();
            io_uring_prep_poll_add(s, r.wfd, POLLIN);
            io_uring_sqe_set_data64(s, ud(kWritable, 0, r.wfd));
            r.wfd_armed = true;
          }
          break;
        }
        case kWatch: {
          auto it = r.watch_serial.find(fd);
          if (it == r.watch_serial.end() || it->second != serial_of(d.data)) break;  // unwatched
          std::function<void()> cb;
          for (auto& w : watches_)
            if (w.first == fd) cb = w.second;
          if (cb) cb();
          it = r.watch_serial.find(fd);  // (the callback may have unwatched it)
          if (it != r.watch_serial.end() && it->second == serial_of(d.data)) {
            io_uring_sqe* s = r.sqe();
            io_uring_prep_poll_add(s, fd, POLLIN);
            io_uring_sqe_set_data64(s, d.data);
          }
          break;
        }
        case kSend: {
          Conn* c = find(fd, serial_of(d.data));
          if (!c) {  // closed while its send was in flight: now its buffer can go, and its fd
            if (r.orphans.erase(d.data)) ::close(fd);
            break;
          }
          c->tx->armed = false;
          try {
            if (d.res > 0) {
              stats_.bytes_sent += uint64_t(d.res);
              c->tx->wire.consume(size_t(d.res));
              if (c->tx->wire.empty()) c->tx->wire.shrink(64 * 1024);
              c->last_activity = c->write_since = now_ms();
              c->outq = -1;
              c->blocked = false;
              flush(*c);  // (at the end of the tick) the rest, the next responses, or the end
            } else if (d.res == -EAGAIN || d.res == 0) {
              c->blocked = true;  // the socket buffer is full: wait for writability, then send again
              ring_interest(*c);
            } else if (d.res == -EINTR) {
              flush(*c);
            } else {
              close_conn(*c);  // EPIPE, ECONNRESET: the client is gone
            }
          } catch (const std::bad_alloc&) { abort_conn(*c); }
          break;
        }
        case kWake: r.wake_armed = false; break;
        case kCancel: break;
      }
    }
    handled += int(n);
    if (n < kBatch) break;
  }
  // The end of the tick: the flushes it asked for, then input held while reading was paused.
  in_tick_ = false;
  auto flushes = std::move(r.flushes);
  r.flushes.clear();
  for (auto [fd, serial] : flushes) {
    Conn* c = find(fd, serial);
    if (!c) continue;
    c->flush_due = false;
    try {
      flush(*c);
    } catch (const std::bad_alloc&) { abort_conn(*c); }
  }
  for (int pass = 0; pass < 4 && !r.ready.empty(); ++pass) {
    auto ready = std::move(r.ready);
    r.ready.clear();
    for (auto [fd, serial] : ready) {
      Conn* c = find(fd, serial);
      if (!c) continue;
      c->ready_due = false;
      try {
        while (!c->dead && !c->held.empty() && can_read(*c)) {
          std::string chunk = std::move(c->held);
          c->held.clear();
          size_t take = chunk.size() < 65536 ? chunk.size() : 65536;
          if (take < chunk.size()) c->held.assign(chunk, take, std::string::npos);
          on_bytes(*c, chunk.data(), take);
        }
        if (!c->dead && c->held.empty() && c->held_eof) {
          c->held_eof = false;
          on_peer_eof(*c);
        }
        if (!c->dead) ring_interest(*c);
      } catch (const std::bad_alloc&) { abort_conn(*c); }
    }
  }
  if (!r.ready.empty() && !r.wake_armed) {  // more next tick: make sure there is one
    io_uring_sqe* s = r.sqe();
    io_uring_prep_nop(s);
    io_uring_sqe_set_data64(s, ud(kWake, 0, 0));
    r.wake_armed = true;
  }
  for (int fd : doomed_) destroy(fd);
  doomed_.clear();
  r.batching = ring_tick_ = false;
  r.done();  // the one submission of this tick
  stats_.ring_submits = r.submits;
  return handled;
}

}  // namespace fasterapi::server
