// A build without nghttp2 (libnghttp2-dev missing at build time): the same interface, HTTP/1.1
// only. http2::available() is false, the Server turns Config::http2 off, so no Session is made
// (its constructor refuses) and the h2 preface gets HTTP/1.1's answer to an unknown version.
#include <stdexcept>

#include "http2/session.hpp"

namespace fasterapi::http2 {

struct Session::Stream {};

bool available() { return false; }

bool parse_h2c_upgrade(std::string_view, size_t, std::string&, std::string&, size_t&) { return false; }

Session::Session(const http::Limits& limits, const Settings&, MakeDispatcher, std::function<void()>, std::string_view,
                 std::string)
    : limits_(limits) {
  throw std::logic_error("no HTTP/2 in this build");
}
Session::~Session() = default;
void Session::on_data(const char*, size_t) {}
void Session::on_eof() {}
void Session::pump() {}
void Session::shutdown() {}
void Session::terminate(uint32_t) {}
void Session::sweep(uint64_t, uint32_t, uint32_t, uint32_t) {}

}  // namespace fasterapi::http2
