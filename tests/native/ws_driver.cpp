// Test driver for http::ws (src/native/http/websocket.{hpp,cpp}): tests/native/test_websocket_codec.py.
//
//   ws_driver accept KEY        prints the Sec-WebSocket-Accept value for KEY
//   ws_driver decode MAX        stdin: records (u32 little-endian length, bytes); for each record the
//                               decoder (max message MAX) is fed the bytes whole, one byte at a time
//                               and in 7-byte pieces; the three transcripts must be equal (else exit 1)
//                               and one is printed, then "END". "all ok" after the last record.
// Transcript lines: "M <t|b> <len> <fnv1a>", "P <len>", "O <len>" (pong), "C <code> <reason>",
// "E <code>", "NEED <bytes held>" when the input ends inside a frame.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "http/websocket.hpp"

namespace ws = fasterapi::http::ws;

namespace {

uint32_t fnv1a(std::string_view s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) h = (h ^ c) * 16777619u;
  return h;
}

std::string transcript(const std::string& data, size_t piece, uint64_t max_message) {
  ws::Decoder d(max_message);
  std::string out;
  size_t pos = 0;
  bool done = false;
  while (pos < data.size() && !done) {
    size_t n = std::min(piece, data.size() - pos);
    size_t off = 0;
    while (off < n && !done) {
      size_t used = 0;
      auto ev = d.next(data.data() + pos + off, n - off, used);
      if (used > n - off) {
        std::fprintf(stderr, "consumed more than given\n");
        std::exit(1);
      }
      off += used;
      char line[256];
      switch (ev) {
        case ws::Decoder::Event::NeedMore:
          if (off != n) {
            std::fprintf(stderr, "NeedMore with input left\n");
            std::exit(1);
          }
          continue;
        case ws::Decoder::Event::Message:
          std::snprintf(line, sizeof line, "M %c %zu %08x\n", d.text() ? 't' : 'b', d.payload().size(),
                        fnv1a(d.payload()));
          break;
        case ws::Decoder::Event::Ping: std::snprintf(line, sizeof line, "P %zu\n", d.payload().size()); break;
        case ws::Decoder::Event::Pong: std::snprintf(line, sizeof line, "O %zu\n", d.payload().size()); break;
        case ws::Decoder::Event::Close:
          std::snprintf(line, sizeof line, "C %u %.*s\n", unsigned(d.code()), int(d.reason().size()),
                        d.reason().data());
          done = true;
          break;
        case ws::Decoder::Event::Error:
          std::snprintf(line, sizeof line, "E %u\n", unsigned(d.code()));
          done = true;
          break;
      }
      out += line;
    }
    pos += n;
  }
  if (!done) out += "NEED\n";
  return out;
}

bool read_exact(void* p, size_t n) { return n == 0 || std::fread(p, 1, n, stdin) == n; }

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "accept") == 0) {
    std::printf("%s\n", ws::accept_value(argv[2]).c_str());
    return 0;
  }
  if (argc != 3 || std::strcmp(argv[1], "decode") != 0) {
    std::fprintf(stderr, "usage: ws_driver accept KEY | decode MAX\n");
    return 2;
  }
  uint64_t max_message = std::strtoull(argv[2], nullptr, 10);
  while (true) {
    unsigned char b[4];
    if (!read_exact(b, 4)) break;
    uint32_t len = uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 | uint32_t(b[3]) << 24;
    std::string data(len, '\0');
    if (!read_exact(data.data(), len)) return 2;
    std::string whole = transcript(data, data.size() ? data.size() : 1, max_message);
    std::string bytes = transcript(data, 1, max_message);
    std::string pieces = transcript(data, 7, max_message);
    if (whole != bytes || whole != pieces) {
      std::printf("SPLIT MISMATCH\n--whole\n%s--bytes\n%s--pieces\n%s", whole.c_str(), bytes.c_str(), pieces.c_str());
      return 1;
    }
    std::printf("%sEND\n", whole.c_str());
  }
  std::printf("all ok\n");
  return 0;
}
