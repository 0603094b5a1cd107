// In-process driver of the HTTP/2 hostile corpus (tests/native/test_http2_corpus.py): one client byte
// stream on stdin (preface, SETTINGS, the case's frames), fed whole to an http2::Session behind the
// corpus's echo dispatcher (fuzz/fuzz_common.hpp); prints what the server did:
//   goaway <code>     the GOAWAY error code sent (-1: none, or NO_ERROR)
//   stream1 <fate>    response (HEADERS with a final status), rst:<code>, or none
#include <cstdio>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>

#include "fuzz_common.hpp"
#include "http2/session.hpp"

namespace fs = fasterapi::server;

namespace {

class StreamDispatcher : public fs::ConnectionDispatcher {
 public:
  explicit StreamDispatcher(const fuzzcommon::fh::Limits& lim) : echo(lim, false) {}
  uint64_t body_limit(const fuzzcommon::fh::Request& head) override { return echo.body_limit(head); }
  fuzzcommon::fh::HandleResult handle(const fuzzcommon::fh::Request& req, fuzzcommon::fh::Buffer& out) override {
    return echo.handle(req, out);
  }
  fuzzcommon::EchoDispatcher echo;
};

}  // namespace

int main() {
  std::string in((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  fuzzcommon::fh::Limits lim;
  fasterapi::http2::Settings settings;
  std::string sent;
  std::string fate = "none";
  int64_t goaway = -1;
  {
    fasterapi::http2::Session s(
        lim, settings, [&] { return std::unique_ptr<fs::ConnectionDispatcher>(new StreamDispatcher(lim)); }, [] {});
    s.on_data(in.data(), in.size());
    s.pump();
    fuzzcommon::fh::Buffer& out = s.output();
    out.materialize();
    sent.assign(out.data(), out.size());
    goaway = s.goaway_sent();
  }
  size_t off = 0;
  while (sent.size() - off >= 9) {
    const auto* h = reinterpret_cast<const unsigned char*>(sent.data() + off);
    size_t len = (size_t(h[0]) << 16) | (size_t(h[1]) << 8) | h[2];
    unsigned sid = ((unsigned(h[5]) << 24) | (unsigned(h[6]) << 16) | (unsigned(h[7]) << 8) | h[8]) & 0x7fffffffu;
    if (sent.size() - off < 9 + len) break;
    if (sid == 1 && fate == "none") {
      if (h[3] == 1) fate = "response";
      if (h[3] == 3 && len == 4)
        fate =
            "rst:" + std::to_string((unsigned(h[9]) << 24) | (unsigned(h[10]) << 16) | (unsigned(h[11]) << 8) | h[12]);
    }
    off += 9 + len;
  }
  std::printf("goaway %lld\nstream1 %s\n", static_cast<long long>(goaway == 0 ? -1 : goaway), fate.c_str());
  return 0;
}
