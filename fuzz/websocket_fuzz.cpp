// Fuzz target for http/websocket's frame Decoder: arbitrary client bytes, decoded whole, byte by
// byte and at split points the input chooses. Invariants beyond "no crash, no sanitizer report":
// the sequence of events (kind, payload, text flag, close code and reason) does not depend on the
// split; a message never exceeds max_message, a control payload never exceeds 125 bytes; a text
// message is valid UTF-8; a close code reported from the peer is 1005 or a valid code; after
// Close or Error nothing more is decoded. Input: byte 0 picks max_message (16 << (b % 12)), byte 1
// seeds the split sizes, the rest is the stream.
// (Built by CMake with -DFASTERAPI_FUZZ=ON, see fuzz/README.md.)
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "http/websocket.hpp"

namespace ws = fasterapi::http::ws;

namespace {

struct Ev {
  int kind;
  std::string payload;
  bool text;
  uint16_t code;
  std::string reason;
  bool operator==(const Ev&) const = default;
};

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "FUZZ INVARIANT: %s\n", what);
  std::abort();
}

// Feeds `data` in segments of the sizes `next_size` gives; returns the events.
template <class F>
std::vector<Ev> decode(const char* data, size_t n, uint64_t max_message, F next_size) {
  ws::Decoder dec(max_message);
  std::vector<Ev> out;
  size_t pos = 0;
  while (pos < n) {
    size_t seg = std::min(n - pos, next_size());
    const char* p = data + pos;
    size_t left = seg;
    pos += seg;
    while (left > 0) {
      size_t used = 0;
      ws::Decoder::Event e = dec.next(p, left, used);
      if (used > left) die("consumed more than given");
      p += used;
      left -= used;
      if (e == ws::Decoder::Event::NeedMore) {
        if (left != 0) die("NeedMore with bytes left");
        break;
      }
      Ev ev{int(e), std::string(dec.payload()), dec.text(), dec.code(), std::string(dec.reason())};
      if (e == ws::Decoder::Event::Message) {
        if (ev.payload.size() > max_message) die("message over max_message");
        if (ev.text && !ws::valid_utf8(ev.payload)) die("text message not UTF-8");
      } else if (e == ws::Decoder::Event::Ping || e == ws::Decoder::Event::Pong) {
        if (ev.payload.size() > 125) die("control payload over 125 bytes");
        ev.text = false;
      } else {
        ev.payload.clear();
      }
      if (e == ws::Decoder::Event::Close && ev.code != ws::kNoStatus && !ws::valid_close_code(ev.code))
        die("invalid close code reported");
      if (e != ws::Decoder::Event::Close) ev.reason.clear();
      if (e != ws::Decoder::Event::Close && e != ws::Decoder::Event::Error) ev.code = 0;
      out.push_back(std::move(ev));
      if (e == ws::Decoder::Event::Close || e == ws::Decoder::Event::Error) return out;
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint64_t max_message = uint64_t(16) << (data[0] % 12);
  uint32_t seed = data[1] * 2654435761u + 1;
  const char* stream = reinterpret_cast<const char*>(data + 2);
  const size_t n = size - 2;
  auto whole = decode(stream, n, max_message, [n] { return n; });
  auto bytes = decode(stream, n, max_message, [] { return size_t(1); });
  auto split = decode(stream, n, max_message, [&seed] {
    seed = seed * 1103515245u + 12345u;
    return size_t((seed >> 16) % 23 + 1);
  });
  if (!(whole == bytes)) die("whole != byte by byte");
  if (!(whole == split)) die("whole != random splits");
  return 0;
}
