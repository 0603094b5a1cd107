// TLS with OpenSSL: SSL_set_fd on the non-blocking socket, so a session costs no copies through
// memory BIOs. Writes go through write(2): the process must ignore SIGPIPE, which CPython does at
// startup (the loop's own send() uses MSG_NOSIGNAL).
#include "tls/tls.hpp"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <stdexcept>

namespace fasterapi::tls {

bool available() { return true; }

class Context {
 public:
  explicit Context(SSL_CTX* c) : ctx(c) {}
  ~Context() { SSL_CTX_free(ctx); }
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  SSL_CTX* ctx;
};

namespace {

// ALPN: what this server speaks, in preference order (wire format: length-prefixed names).
// h2 first (the server's preference) unless HTTP/2 is off (Options::http2).
constexpr unsigned char kAlpnH1[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
constexpr unsigned char kAlpnH2[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
                void* arg) {
  unsigned char* chosen = nullptr;
  const bool h2 = arg != nullptr;
  const unsigned char* list = h2 ? kAlpnH2 : kAlpnH1;
  const unsigned int len = h2 ? sizeof kAlpnH2 : sizeof kAlpnH1;
  if (SSL_select_next_proto(&chosen, outlen, list, len, in, inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;  // no common protocol: carry on without ALPN (as curl --no-alpn)
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

// The key's password comes from the options only: OpenSSL's default would prompt on the
// terminal, which would hang a server started by a service manager.
int give_password(char* buf, int size, int, void* userdata) {
  const auto* pw = static_cast<const std::string*>(userdata);
  if (!pw || pw->empty() || int(pw->size()) >= size) return 0;
  memcpy(buf, pw->data(), pw->size());
  return int(pw->size());
}

// The first queued OpenSSL error as text (the queue is cleared), for a one-line message.
std::string openssl_reason() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (!e) return "unknown error";
  const char* r = ERR_reason_error_string(e);
  return r ? r : "error " + std::to_string(e);
}

void check_readable(const std::string& what, const std::string& path) {
  if (::access(path.c_str(), R_OK) != 0) throw std::runtime_error(what + " " + path + ": " + strerror(errno));
}

void load_identity(SSL_CTX* ctx, const Options& o) {
  const std::string& keyfile = o.keyfile.empty() ? o.certfile : o.keyfile;
  check_readable("--ssl-certfile", o.certfile);
  check_readable("--ssl-keyfile", keyfile);
  if (SSL_CTX_use_certificate_chain_file(ctx, o.certfile.c_str()) != 1)
    throw std::runtime_error("--ssl-certfile " + o.certfile + ": not a PEM certificate chain (" + openssl_reason() +
                             ")");
  SSL_CTX_set_default_passwd_cb(ctx, give_password);
  SSL_CTX_set_default_passwd_cb_userdata(ctx, const_cast<std::string*>(&o.password));
  int ok = SSL_CTX_use_PrivateKey_file(ctx, keyfile.c_str(), SSL_FILETYPE_PEM);
  SSL_CTX_set_default_passwd_cb_userdata(ctx, nullptr);  // the options do not outlive this call
  if (ok != 1) {
    unsigned long e = ERR_peek_last_error();
    bool mismatch = ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH;
    std::string why = openssl_reason();
    if (mismatch)
      throw std::runtime_error("--ssl-keyfile " + keyfile + ": does not match the certificate in " + o.certfile);
    throw std::runtime_error("--ssl-keyfile " + keyfile + ": cannot load the private key (" +
                             (o.password.empty() ? why + "; encrypted? give --ssl-keyfile-password" : why) + ")");
  }
  if (SSL_CTX_check_private_key(ctx) != 1)
    throw std::runtime_error("--ssl-keyfile " + keyfile + ": does not match the certificate in " + o.certfile);
}

void load_client_policy(SSL_CTX* ctx, const Options& o) {
  if (o.cert_reqs < 0 || o.cert_reqs > 2)
    throw std::runtime_error("--ssl-cert-reqs must be 0 (none), 1 (optional) or 2 (required), got " +
                             std::to_string(o.cert_reqs));
  if (!o.ca_certs.empty()) {
    check_readable("--ssl-ca-certs", o.ca_certs);
    if (SSL_CTX_load_verify_locations(ctx, o.ca_certs.c_str(), nullptr) != 1)
      throw std::runtime_error("--ssl-ca-certs " + o.ca_certs + ": not a PEM CA file (" + openssl_reason() + ")");
    // The CA names the server sends in its CertificateRequest (clients pick a matching cert).
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.ca_certs.c_str()))
      SSL_CTX_set_client_CA_list(ctx, names);
  } else if (o.cert_reqs != 0) {
    throw std::runtime_error("--ssl-cert-reqs " + std::to_string(o.cert_reqs) + " needs --ssl-ca-certs");
  }
  int mode = o.cert_reqs == 0   ? SSL_VERIFY_NONE
             : o.cert_reqs == 1 ? SSL_VERIFY_PEER
                                : SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  SSL_CTX_set_verify(ctx, mode, nullptr);
}

}  // namespace

std::shared_ptr<Context> make_context(const Options& o) {
  if (o.certfile.empty()) throw std::runtime_error("--ssl-certfile is required for TLS");
  ERR_clear_error();
  SSL_CTX* raw = SSL_CTX_new(TLS_server_method());
  if (!raw) throw std::runtime_error("TLS: cannot create a context (" + openssl_reason() + ")");
  auto ctx = std::make_shared<Context>(raw);
  // Modern defaults: TLS 1.2+, no compression (CRIME), no renegotiation (a client-driven CPU
  // cost and a past source of bugs), the server's cipher order.
  SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION);
  SSL_CTX_set_options(raw, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // A peer closing without close_notify reads as a plain close, as on a plain connection: HTTP
  // framing, not TLS, says whether a message was complete. (OpenSSL 1.1.1 reports such an EOF
  // as SSL_ERROR_SYSCALL with errno 0, which receive() maps alike.)
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
  SSL_CTX_set_options(raw, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
  // The loop retries a write with its output buffer, which may have moved or grown meanwhile.
  SSL_CTX_set_mode(raw, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  static const unsigned char kSessionContext[] = "fasterapi";
  SSL_CTX_set_session_id_context(raw, kSessionContext, sizeof kSessionContext - 1);
  SSL_CTX_set_alpn_select_cb(raw, select_alpn, o.http2 ? const_cast<unsigned char*>(kAlpnH2) : nullptr);
  if (!o.ciphers.empty() && SSL_CTX_set_cipher_list(raw, o.ciphers.c_str()) != 1)
    throw std::runtime_error("--ssl-ciphers '" + o.ciphers + "': no usable cipher (" + openssl_reason() + ")");
  load_identity(raw, o);
  load_client_policy(raw, o);
  return ctx;
}

struct Session::Impl {
  SSL* ssl = nullptr;
  ~Impl() { SSL_free(ssl); }
};

bool Session::alpn_h2() const {
  const unsigned char* p = nullptr;
  unsigned int n = 0;
  SSL_get0_alpn_selected(impl_->ssl, &p, &n);
  return n == 2 && p[0] == 'h' && p[1] == '2';
}

Session::Session(const std::shared_ptr<Context>& ctx, int fd) : impl_(std::make_unique<Impl>()) {
  impl_->ssl = SSL_new(ctx->ctx);  // holds its own reference to the SSL_CTX
  if (!impl_->ssl || SSL_set_fd(impl_->ssl, fd) != 1) throw std::runtime_error("TLS: cannot start a session");
  SSL_set_accept_state(impl_->ssl);
}

Session::~Session() = default;

bool Session::handshaking() const { return !SSL_is_init_finished(impl_->ssl); }

ssize_t Session::receive(char* buf, size_t n) {
  receive_wants_write_ = false;
  ERR_clear_error();
  int r = SSL_read(impl_->ssl, buf, int(n > 1 << 30 ? 1 << 30 : n));
  if (r > 0) return r;
  switch (SSL_get_error(impl_->ssl, r)) {
    case SSL_ERROR_WANT_READ: errno = EAGAIN; return -1;
    case SSL_ERROR_WANT_WRITE:
      receive_wants_write_ = true;
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_ZERO_RETURN: return 0;  // close_notify
    case SSL_ERROR_SYSCALL:
      if (errno == 0 || r == 0) return 0;  // EOF without close_notify: as a plain close
      return -1;
    default: {
      unsigned long e = ERR_peek_error();
      plain_http_ = ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_HTTP_REQUEST;
      ERR_clear_error();
      errno = EPROTO;
      return -1;
    }
  }
}

ssize_t Session::transmit(const char* buf, size_t n) {
  ERR_clear_error();
  int w = SSL_write(impl_->ssl, buf, int(n > 1 << 30 ? 1 << 30 : n));
  if (w > 0) return w;
  switch (SSL_get_error(impl_->ssl, w)) {
    case SSL_ERROR_WANT_WRITE:
    case SSL_ERROR_WANT_READ: errno = EAGAIN; return -1;
    case SSL_ERROR_SYSCALL:
      if (errno == 0) errno = EPIPE;
      return -1;
    default:
      ERR_clear_error();
      errno = EPROTO;
      return -1;
  }
}

void Session::close_notify() {
  if (SSL_is_init_finished(impl_->ssl)) {
    ERR_clear_error();
    (void)SSL_shutdown(impl_->ssl);
    ERR_clear_error();
  }
}

}  // namespace fasterapi::tls
