// libFuzzer target: http::Connection (parser, framing, chunked, limits, pipelining, keep-alive)
// fed arbitrary bytes with arbitrary segmentation, behind the corpus's echo Dispatcher.
//
// Input layout:
//   byte 0      mode: bit 0 Pending dispatcher; bits 1-2 limits (fuzz_common.hpp pick_limits);
//               bit 3 also run with set_draining() mid-stream; bit 4 also run with a peer that
//               does not read (no drain until the end); bit 5 also run with fail(408) mid-stream
//   byte 1      low nibble: number of split sizes that follow (0: byte by byte);
//               high nibble: where the truncated copy is cut (sixteenths of the payload)
//   bytes 2..5  extra limit values (limits mode 2)
//   next n      split sizes (1..256 each, cycled)
//   the rest    the byte stream a client sends, then EOF
//
// Invariants (any violation aborts):
//   - no crash, no ASan/UBSan report, no leak;
//   - handle() only sees well-formed requests (fuzz_common.hpp echo_of) whose body is complete;
//   - the output is a sequence of well-formed responses: status line with its reason phrase,
//     Date, one Content-Length (none for 204/304), the echo body byte for byte, the exact error
//     body, Connection: close on every error and nothing after a Connection: close;
//   - every handled request is answered, in order;
//   - whole and split input give the same responses (Date and 100 Continue aside), the same
//     request count and the same closing;
//   - a truncated copy of the stream (then EOF) answers a prefix of the requests the whole stream
//     answered: never a response to a request that was not complete.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_common.hpp"

using namespace fuzzcommon;

namespace {

struct Outcome {
  std::string norm;
  std::vector<Rec> handled;
  std::vector<Resp> resps;
  bool closed_before_eof;
  bool closed;
  uint64_t served;
};

Outcome finish(Session& s) {
  s.finish();
  if (!s.disp.waiting.empty()) die("a pending response was never completed");
  Outcome o;
  o.resps = parse_output(s.sent, s.disp.handled);
  size_t echoes = 0;
  for (const auto& r : o.resps) echoes += r.echo;
  if (s.closed && echoes != s.disp.handled.size()) die("a handled request was not answered", s.sent);
  if (!s.closed) die("connection not closed after EOF", s.sent);
  if (s.conn.requests_served() != s.disp.handled.size()) die("requests_served != handled", s.sent);
  o.norm = normalized(o.resps);
  o.handled = s.disp.handled;
  o.closed_before_eof = s.closed_before_eof;
  o.closed = s.closed;
  o.served = s.conn.requests_served();
  return o;
}

Outcome run_whole(const fh::Limits& lim, bool pending, const char* p, size_t n) {
  Session s(lim, pending, false);
  s.data(p, n);
  s.end();
  return finish(s);
}

Outcome run_split(const fh::Limits& lim, bool pending, const char* p, size_t n, const uint8_t* sizes,
                  size_t nsizes) {
  Session s(lim, pending, false);
  size_t pos = 0, k = 0;
  while (pos < n && !s.closed) {
    size_t take = nsizes ? size_t(sizes[k++ % nsizes]) + 1 : 1;
    if (take > n - pos) take = n - pos;
    s.data(p + pos, take);
    pos += take;
  }
  s.end();
  return finish(s);
}

void same(const Outcome& a, const Outcome& b, const char* what) {
  if (a.norm != b.norm) die(what, "whole:\n" + a.norm + "\nsplit:\n" + b.norm);
  if (a.closed_before_eof != b.closed_before_eof) die(what, "closed_before_eof differs");
  if (a.served != b.served) die(what, "served differs");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 6) return 0;
  const unsigned mode = data[0];
  const size_t nsizes = data[1] & 15;
  const unsigned cut16 = data[1] >> 4;
  const uint8_t* extra = data + 2;
  if (size < 6 + nsizes) return 0;
  const uint8_t* sizes = data + 6;
  const char* p = reinterpret_cast<const char*>(data + 6 + nsizes);
  const size_t n = size - 6 - nsizes;
  const bool pending = mode & 1;
  const fh::Limits lim = pick_limits(mode >> 1, extra);

  Outcome whole = run_whole(lim, pending, p, n);
  // Byte by byte is quadratic-free but slow on big inputs: cap it.
  if (nsizes || n <= 4096) same(whole, run_split(lim, pending, p, n, sizes, nsizes), "split-dependent result");

  // A truncated stream answers a prefix of the same requests.
  size_t cut = n * cut16 / 16;
  Outcome part = run_whole(lim, pending, p, cut);
  if (part.handled.size() > whole.handled.size()) die("truncated stream answered more requests");
  for (size_t i = 0; i < part.handled.size(); ++i) {
    // (the last one may differ in its closing: EOF right after it ends the connection)
    if (part.handled[i].body != whole.handled[i].body || part.handled[i].head_only != whole.handled[i].head_only)
      die("truncated stream answered a request differently (incomplete request answered?)",
          part.handled[i].body + " vs " + whole.handled[i].body);
  }

  // Extra schedules: only the invariants (their results legitimately depend on timing).
  if (mode & (8 | 16 | 32)) {
    Session s(lim, pending, (mode & 16) != 0);
    size_t half = n / 2;
    s.data(p, half);
    if (mode & 8) {
      s.conn.set_draining();
      s.pump();
    }
    if (mode & 32) {
      s.conn.fail(408);
      s.pump();
    }
    s.data(p + half, n - half);
    s.end();
    s.finish();
    if (!s.disp.waiting.empty()) die("a pending response was never completed (extra schedule)");
    parse_output(s.sent, s.disp.handled);
    if (!s.closed) die("connection not closed after EOF (extra schedule)");
  }
  return 0;
}
