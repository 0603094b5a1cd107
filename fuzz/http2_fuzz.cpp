// libFuzzer target: http2::Session (nghttp2's server session and the adapter that turns each
// stream into an HTTP/1.1 request for its own http::Connection, then the response back into
// frames) behind the corpus's echo Dispatcher, fed arbitrary client bytes at arbitrary splits.
//
// Input layout:
//   byte 0      mode: bit 0 Pending dispatcher (responses completed by the driver after each
//               segment, through ConnLink as the bridge does); bit 1 no client preface prepended
//               (else the preface and an empty SETTINGS frame come first); bits 2-3 limits
//               (fuzz_common.hpp pick_limits); bit 4 a graceful shutdown() halfway; bit 5 a
//               sweep() with a zero write timeout halfway
//   byte 1      split seed (0: the whole input at once)
//   bytes 2..5  extra limit values (limits mode 2)
//   the rest    frames (or anything) the client sends, then EOF
//
// Invariants (any violation aborts):
//   - no crash, no ASan/UBSan report, no leak;
//   - every stream's dispatcher is destroyed with the session (none outlives it);
//   - handle() only sees well-formed requests (fuzz_common.hpp echo_of);
//   - the output is a sequence of well-formed frames: 9-byte headers, payloads of at most 16384
//     bytes (the default SETTINGS_MAX_FRAME_SIZE, which nghttp2 never exceeds when sending), known
//     types, HEADERS/DATA only on odd (client) stream ids; the first frame is SETTINGS;
//   - the output never holds more than output_high_water plus one round of frames.
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "http2/session.hpp"
#include "server/loop.hpp"

using namespace fuzzcommon;
namespace h2 = fasterapi::http2;
namespace fs = fasterapi::server;

namespace {

struct Registry;

class StreamDispatcher : public fs::ConnectionDispatcher {
 public:
  StreamDispatcher(const fh::Limits& lim, bool pending, Registry& reg);
  ~StreamDispatcher() override;
  uint64_t body_limit(const fh::Request& head) override { return echo.body_limit(head); }
  fh::HandleResult handle(const fh::Request& req, fh::Buffer& out) override { return echo.handle(req, out); }
  EchoDispatcher echo;
  Registry& reg;
};

struct Registry {
  std::vector<StreamDispatcher*> live;
  size_t made = 0;
};

StreamDispatcher::StreamDispatcher(const fh::Limits& lim, bool pending, Registry& r) : echo(lim, pending), reg(r) {
  reg.live.push_back(this);
  ++reg.made;
}

StreamDispatcher::~StreamDispatcher() {
  for (size_t i = 0; i < reg.live.size(); ++i)
    if (reg.live[i] == this) {
      reg.live.erase(reg.live.begin() + long(i));
      return;
    }
  die("a stream dispatcher destroyed twice");
}

// Completes the responses the pending dispatchers hold, as a late handler does through ConnLink.
void complete_pending(Registry& reg) {
  std::vector<StreamDispatcher*> now = reg.live;  // (a kick may destroy streams)
  for (StreamDispatcher* d : now) {
    bool alive = false;
    for (StreamDispatcher* x : reg.live) alive = alive || x == d;
    if (!alive) continue;
    std::shared_ptr<fs::ConnLink> link = d->link;
    while (!d->echo.waiting.empty()) {
      Rec r = std::move(d->echo.waiting.front());
      d->echo.waiting.pop_front();
      if (!link->conn) continue;
      write_rec(link->conn->output(), r);
      link->conn->complete();
      if (link->kick) link->kick();
      break;  // (the kick may have destroyed d)
    }
  }
}

struct FrameChecker {
  std::string pending;  // bytes of an incomplete frame
  bool first = true;
  void feed(const char* p, size_t n) {
    pending.append(p, n);
    size_t off = 0;
    while (pending.size() - off >= 9) {
      const auto* h = reinterpret_cast<const uint8_t*>(pending.data() + off);
      size_t len = (size_t(h[0]) << 16) | (size_t(h[1]) << 8) | h[2];
      uint8_t type = h[3];
      uint32_t sid = ((uint32_t(h[5]) << 24) | (uint32_t(h[6]) << 16) | (uint32_t(h[7]) << 8) | h[8]) & 0x7fffffffu;
      if (len > 16384) die("a frame over 16384 bytes");
      if (type > 9) die("an unknown frame type sent");
      if (first && type != 4) die("the first frame is not SETTINGS");
      first = false;
      if ((type == 0 || type == 1) && (sid == 0 || sid % 2 == 0)) die("HEADERS/DATA on a non-client stream");
      if (pending.size() - off < 9 + len) break;
      off += 9 + len;
    }
    pending.erase(0, off);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 6) return 0;
  const uint8_t mode = data[0];
  const bool pending = mode & 1;
  fh::Limits lim = pick_limits((mode >> 2) & 3, data + 2);
  uint32_t seed = data[1] * 2654435761u + 1;
  std::string input;
  if (!(mode & 2)) {
    input.append(h2::kPreface);
    input.append("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9);  // an empty SETTINGS
  }
  input.append(reinterpret_cast<const char*>(data + 6), size - 6);

  Registry reg;
  FrameChecker frames;
  {
    h2::Settings settings;
    settings.max_concurrent_streams = 16;
    h2::Session* sp = nullptr;
    auto drain = [&] {
      fh::Buffer& out = sp->output();
      if (out.size() > size_t(lim.output_high_water) + (1u << 20)) die("output over its bound");
      out.materialize();
      frames.feed(out.data(), out.size());
      out.consume(out.size());
    };
    auto make = [&] { return std::unique_ptr<fs::ConnectionDispatcher>(new StreamDispatcher(lim, pending, reg)); };
    h2::Session s(lim, settings, make, [] {});
    sp = &s;
    drain();
    size_t pos = 0;
    bool shut = false, swept = false;
    while (pos < input.size() && !s.done()) {
      size_t take = input.size() - pos;
      if (data[1]) {
        seed = seed * 1103515245u + 12345u;
        take = std::min(take, size_t((seed >> 16) % 97 + 1));
      }
      s.on_data(input.data() + pos, take);
      pos += take;
      drain();
      if (pending) complete_pending(reg);
      s.pump();
      drain();
      if ((mode & 16) && !shut && pos * 2 >= input.size()) {
        shut = true;
        s.shutdown();
        drain();
      }
      if ((mode & 32) && !swept && pos * 2 >= input.size()) {
        swept = true;
        s.sweep(fs::now_ms() + 1, 0);
        drain();
      }
    }
    for (int i = 0; i < 4 && pending && !reg.live.empty(); ++i) {
      complete_pending(reg);
      s.pump();
      drain();
    }
    s.on_eof();
    s.pump();
    drain();
  }
  if (!reg.live.empty()) die("a stream dispatcher outlived its session");
  return 0;
}
