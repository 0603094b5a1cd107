// A connection of the socket loop (Server::Conn): shared by the epoll code (loop.cpp) and the
// io_uring backend (loop_uring.cpp). Private to server/.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include <sys/socket.h>
#include <sys/uio.h>

#include "http2/session.hpp"
#include "server/loop.hpp"

namespace fasterapi::server {

// io_uring: the bytes of a connection's send SQE (loop_uring.cpp). The whole output is taken from
// out() at once (a swap, no copy), so what the kernel reads stays put while the protocol appends
// the next responses to out(); sent before out(). On the heap: the msghdr/iovec an SQE points at
// must not move, and a connection closed with a send in flight hands this to the ring until the
// completion (the fd is closed then, so its number cannot be reused by a socket the SQE would hit).
struct RingTx {
  http::Buffer wire;   // in flight (armed), or what a short send left (sent next, before out())
  bool armed = false;  // an SQE reading wire is in the ring: nothing touches wire until its completion
  msghdr msg{};        // (a body referenced rather than copied: head and body in one SENDMSG)
  iovec iov[2]{};
};

struct Server::Conn {
  int fd;
  std::unique_ptr<ConnectionDispatcher> dispatcher;
  http::Connection proto;
  uint32_t events = 0;         // current epoll interest (io_uring: registered in the write-wait set)
  uint64_t last_activity = 0;  // last read or write progress
  uint64_t write_since = 0;    // output waiting: since its last send progress (0: output empty)
  int outq = -1;               // bytes in the kernel send queue at the last sweep (-1: unknown)
  uint64_t request_start = 0;  // the head deadline's clock: since reading of this head began (0: none)
  uint64_t body_start = 0;     // when the body started (0: not reading a body)
  uint64_t body_bytes = 0;
  uint64_t linger_until = 0;  // >0: output done, write side shut, draining input until then
  uint64_t answer_until = 0;  // >0: a streamed body timed out; its handler has until then to answer
  bool dead = false;
  std::unique_ptr<tls::Session> tls;  // null: a plain connection
  uint64_t accepted_at = 0;           // the handshake's deadline clock
  // io_uring only (loop_uring.cpp)
  uint32_t serial = 0;         // tells this connection's completions from an earlier one's on the same fd
  bool recv_armed = false;     // a multishot receive is in the ring
  bool recv_cancel = false;    // ... and its cancellation too (reading paused)
  bool out_armed = false;      // waiting for writability
  bool blocked = false;        // the last send stopped short (EAGAIN): wait for writability
  bool flush_due = false;      // in the tick's flush list
  bool ready_due = false;      // in the ready list: held input to feed, a receive to rearm
  bool held_eof = false;       // the peer's FIN arrived behind held input
  std::string held;            // received while reading was paused (in flight when it paused)
  std::unique_ptr<RingTx> tx;  // the output being sent through the ring (null: none yet; epoll: never)
  // HTTP/2: chosen by ALPN or by the client's preface (or Upgrade: h2c); then h2 drives the
  // connection and proto stays unused. sniffed: the choice is made; sniff: the first bytes while
  // they may still be the preface.
  std::unique_ptr<http2::Session> h2;
  std::string peer_host;  // (each h2 stream's dispatcher is made for the same peer)
  int peer_port = 0;
  bool sniffed = false;
  std::string sniff;

  http::Buffer& out() { return h2 ? h2->output() : proto.output(); }
  bool should_close() const { return h2 ? h2->done() : proto.should_close(); }
  bool pending() const { return h2 ? false : proto.pending(); }
  // All output written to the socket (io_uring: none in flight or left by a short send either).
  bool all_sent() { return out().empty() && (!tx || tx->wire.empty()); }
  // io_uring: a send SQE is in flight (MSG_DONTWAIT: it completed at its submission; its completion
  // is taken at the next poll()).
  bool sending() const { return tx && tx->armed; }
  // Unsent output bytes (own bytes, as Buffer::size(): a referenced body is not counted).
  size_t unsent() { return out().size() + (tx ? tx->wire.size() : 0); }

  Conn(int f, std::unique_ptr<ConnectionDispatcher> d, const http::Limits& lim)
      : fd(f), dispatcher(std::move(d)), proto(lim, *dispatcher) {}
};

}  // namespace fasterapi::server
