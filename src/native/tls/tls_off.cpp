// A build without OpenSSL (-DFASTERAPI_TLS=OFF, or libssl-dev missing): the same interface,
// refusing TLS with one line. No Session is ever made (make_context() never returns).
#include <stdexcept>

#include "tls/tls.hpp"

namespace fasterapi::tls {

class Context {};
struct Session::Impl {};

bool available() { return false; }

std::shared_ptr<Context> make_context(const Options&) {
  throw std::runtime_error("this build of FasterAPI has no TLS: rebuild with libssl-dev installed");
}

Session::Session(const std::shared_ptr<Context>&, int) { throw std::logic_error("no TLS in this build"); }
Session::~Session() = default;
ssize_t Session::receive(char*, size_t) { return -1; }
ssize_t Session::transmit(const char*, size_t) { return -1; }
bool Session::handshaking() const { return false; }
bool Session::alpn_h2() const { return false; }
void Session::close_notify() {}

}  // namespace fasterapi::tls
