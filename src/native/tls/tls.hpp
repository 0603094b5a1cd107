// TLS at the app: a server context (certificate chain, key, client-certificate policy, ciphers)
// and a per-connection session over a non-blocking socket. No Python here; the socket loop
// (server/loop.cpp) reads and writes through a Session when its connection has one.
// Built from tls.cpp with OpenSSL, or from tls_off.cpp (no OpenSSL: make_context() refuses).
#pragma once
#include <sys/types.h>

#include <memory>
#include <string>

namespace fasterapi::tls {

// uvicorn's --ssl-* options. cert_reqs as Python's ssl module: 0 none, 1 optional, 2 required.
struct Options {
  std::string certfile, keyfile, password, ca_certs, ciphers;
  int cert_reqs = 0;
  bool http2 = true;  // offer h2 by ALPN (before http/1.1)
};

// True when this build has TLS (OpenSSL was found at build time).
bool available();

// A loaded server context. Shared: a session keeps the context it started with, so replacing
// the server's context (a certificate reload) never disturbs open connections.
class Context;
// Loads and checks everything now (files, password, key/cert match, CA file, cipher list).
// Throws std::runtime_error with one line for the operator.
std::shared_ptr<Context> make_context(const Options& opts);

// One connection's TLS state over a non-blocking socket it does not own (the loop closes fd).
// receive()/transmit() behave as recv()/send(): >0 bytes; receive() 0 at the peer's close;
// -1 with errno EAGAIN (try again on the next readiness event) or another errno (fatal).
class Session {
 public:
  Session(const std::shared_ptr<Context>& ctx, int fd);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  ssize_t receive(char* buf, size_t n);
  ssize_t transmit(const char* buf, size_t n);
  // The handshake is still running (the head deadline applies from the accept).
  bool handshaking() const;
  // ALPN chose h2 (valid once the handshake is done).
  bool alpn_h2() const;
  // The last receive() stopped because the socket was not writable (a handshake flight larger
  // than the send buffer): retry receive() when the socket is writable again.
  bool receive_wants_write() const { return receive_wants_write_; }
  // The peer spoke plain HTTP to the TLS port: the loop may answer a plain-text 400.
  bool plain_http() const { return plain_http_; }
  // Best effort close_notify before the write side is shut (never blocks, never retried).
  void close_notify();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool receive_wants_write_ = false;
  bool plain_http_ = false;
};

}  // namespace fasterapi::tls
