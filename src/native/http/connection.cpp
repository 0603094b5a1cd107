// HTTP/1.1 server-side connection state machine (RFC 9112): incremental head scan, framing,
// chunked decoding, limits, keep-alive, pipelining and 100-continue.
//
// Every verdict depends only on the byte stream, never on how it was split: the head is
// searched for line ends incrementally (scanned_), each line is checked once when its LF
// arrives, and the size limits are monotone predicates on the number of bytes seen, checked in
// the order the bytes arrive.
#include "connection.hpp"

#include <algorithm>
#include <cstring>

#include "response.hpp"

namespace fasterapi::http {

using detail::hex_value;
using detail::iequals;
using detail::is;
using detail::is_ows;
using detail::Span;

namespace {

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr uint32_t kMaxChunkDigits = 16;  // 16 hex digits fit in a uint64_t
constexpr size_t kKeepInput = 64 * 1024;  // give larger idle input buffers back
constexpr size_t kKeepBody = 64 * 1024;
constexpr size_t kDeliverMax = 64 * 1024;  // streamed body: bytes per on_chunk (the sink can pause between)

enum ChunkState : uint8_t {
  kSizeStart,   // first hex digit of a chunk-size
  kSize,        // more hex digits, or what follows the size
  kExtPreBws,   // BWS before ';'
  kExtNameBws,  // after ';': BWS, then chunk-ext-name
  kExtName,
  kExtAfterName,  // BWS after the name: '=' or ';'
  kExtValBws,     // after '=': BWS, then token or quoted-string
  kExtToken,
  kExtQuoted,
  kExtQuotedPair,
  kExtAfterQuoted,
  kSizeLF,  // CR seen, LF expected
  kData,
  kDataCR,
  kDataLF,
  kTrailer,  // trailer section lines, until an empty line
};

// Is a line of `raw` bytes (before its LF; `last` is the last of them) longer than `max` once
// its CR is not counted? Monotone in raw, so it gives the same answer for a partial line.
inline bool line_overflow(size_t raw, char last, size_t max) {
  return raw > max + 1 || (raw == max + 1 && last != '\r');
}

// Calls fn(element) for each non-empty element of a comma-separated list, OWS trimmed.
template <class Fn>
void for_each_element(std::string_view v, Fn fn) {
  size_t i = 0, n = v.size();
  while (i < n) {
    size_t e = i;
    while (e < n && v[e] != ',') ++e;
    size_t s = i, t = e;
    while (s < t && is_ows(v[s])) ++s;
    while (t > s && is_ows(v[t - 1])) --t;
    if (t > s) fn(v.substr(s, t - s));
    i = e + 1;
  }
}

// "content_length" / "transfer_encoding" (any case): a name that some gateways and CGI-style
// environments fold into a framing header. Never framing here; rejected to avoid a desync.
bool confusable_framing_name(std::string_view name) {
  if (name.size() != 14 && name.size() != 17) return false;
  if (name.find('_') == std::string_view::npos) return false;
  std::string_view ref = name.size() == 14 ? "content-length" : "transfer-encoding";
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    if (c == '_') c = '-';
    if (c != ref[i]) return false;
  }
  return true;
}

}  // namespace

Connection::Connection(const Limits& limits, Dispatcher& dispatcher) : limits_(limits), dispatcher_(dispatcher) {}

Connection::~Connection() {
  if (ws_ && !ws_finished_) {  // the transport went away without a close frame
    ws_finished_ = true;
    ws_->on_close(ws::kAbnormal, {});
  }
  detach_body();                              // the transport went away mid-body
  if (pending_) dispatcher_.response_end(0);  // a response that will never be complete
}

bool Connection::paused() const {
  // A streamed body flows while its response is pending, held back only by its sink.
  if (streaming_) return body_paused_;
  return pending_ || ws_paused_ || out_.size() > limits_.output_high_water;
}

// Input kept while paused (a response pending, or output above the high-water mark). The
// socket layer stops reading in that state; this is the safety net if it does not.
size_t Connection::input_cap() const {
  return size_t(limits_.max_head) * std::max<uint32_t>(limits_.max_pipelined, 1) +
         size_t(std::min<uint64_t>(limits_.max_body, uint64_t(1) << 40));
}

void Connection::on_data(const char* data, size_t n) {
  if (stopped_ || n == 0) return;
  if (phase_ != Phase::Head) views_stale_ = true;
  in_.append(data, n);
  if (paused()) {
    if (in_.size() > input_cap()) stop_reading();  // the peer ignores backpressure: drop it
    return;
  }
  process();
}

void Connection::on_eof() {
  eof_ = true;
  if (stopped_) return;
  process();  // requests already received are still answered; an incomplete one is dropped
}

void Connection::resume() {
  if (!stopped_) process();
}

void Connection::complete() {
  if (!pending_) return;
  pending_ = false;
  ++served_;
  dispatcher_.response_end(out_.last_status);
  if (streaming_) drop_body();
  if (stopped_) {
    close_after_flush_ = true;
    return;
  }
  // Draining: the dispatcher saw draining() and wrote "Connection: close". A close asked for
  // during the response (a streamed response cut short) ends the connection here too: nothing
  // may follow a response whose end the client cannot find.
  if (draining_ || close_requested_) {
    stop_reading();
    return;
  }
  process();
}

bool Connection::in_request() const { return !stopped_ && !pending_ && phase_ == Phase::Head && !in_.empty(); }

bool Connection::reading_body() const {
  if (stopped_) return false;
  return streaming_ || (!pending_ && (phase_ == Phase::BodyLength || phase_ == Phase::BodyChunked));
}

void Connection::set_draining() {
  draining_ = true;
  if (upgraded()) {  // a server shutdown: "going away"
    ws_close(ws::kGoingAway, {});
    return;
  }
  if (!stopped_ && !pending_ && phase_ == Phase::Head && in_.empty()) stop_reading();
}

void Connection::fail(int status) {
  if (stopped_) return;
  if (upgraded()) {  // no HTTP response inside a WebSocket
    ws_close(ws::kGoingAway, {});
    return;
  }
  if (streaming_) {  // the head was dispatched: its response (if any) is the handler's
    abort_body(status);
    return;
  }
  if (pending_) {  // a response is on its way: close after it instead
    stop_reading();
    return;
  }
  reject(status);
}

void Connection::reject(int status) {
  write_error(out_, status, true);
  stop_reading();
}

void Connection::stop_reading() {
  stopped_ = true;
  phase_ = Phase::Closed;
  in_.clear();
  body_.clear();
  if (!pending_) close_after_flush_ = true;
  detach_body();  // last: the sink may call back into a connection already in its final state
}

void Connection::process() {
  if (phase_ == Phase::WebSocket) {  // (also when reading is paused: it may owe on_writable())
    process_ws();
    return;
  }
  // A sink callback may re-enter (complete(), resume_body()): the running loop re-checks the
  // state after each step, so the nested call has nothing to do.
  if (processing_) return;
  processing_ = true;
  while (!stopped_ && !paused() && step()) {}
  processing_ = false;
}

bool Connection::step() {
  switch (phase_) {
    case Phase::Head: {
      int r = scan_head();
      if (r == 0) {
        if (eof_) stop_reading();  // incomplete (or no) request at EOF: no response
        return false;
      }
      if (r != 1 || (r = finish_head()) != 0) {
        reject(r);
        return false;
      }
      if (streaming_) dispatch_head();
      return true;
    }
    case Phase::BodyLength: {
      if (streaming_) return stream_length();
      size_t need = head_len_ + req_.content_length;  // content_length <= body limit
      if (in_.size() < need) {
        if (eof_) stop_reading();
        return false;
      }
      dispatch(need);
      return true;
    }
    case Phase::BodyChunked: {
      if (streaming_) return stream_chunked();
      int r = decode_chunked();
      if (r == 0) {
        if (eof_) stop_reading();
        return false;
      }
      if (r != 1) {
        reject(r);
        return false;
      }
      dispatch(pos_);
      return true;
    }
    case Phase::WebSocket:
    case Phase::Closed: return false;
  }
  return false;
}

// ---- WebSocket ----------------------------------------------------------------------------------

void Connection::upgrade(std::unique_ptr<ws::Handler> handler, uint64_t max_message) {
  ws_ = std::move(handler);
  ws_decoder_ = std::make_unique<ws::Decoder>(max_message);
  phase_ = Phase::WebSocket;
  pending_ = false;
  ++served_;
  process();  // frames that arrived with (or right after) the handshake
}

void Connection::ws_resume_reading() {
  if (!ws_paused_) return;
  ws_paused_ = false;
  if (!stopped_) process();
}

bool Connection::ws_send(bool text, std::string_view payload) {
  if (!ws_ || ws_close_sent_ || ws_finished_) return false;
  ws::write_frame(out_, text ? ws::kText : ws::kBinary, payload);
  return true;
}

void Connection::ws_close(uint16_t code, std::string_view reason) {
  if (!ws_ || ws_finished_) return;
  if (!ws_close_sent_) {
    ws::write_close(out_, code, reason);
    ws_close_sent_ = true;
  }
  finish_ws(code, reason);
}

void Connection::finish_ws(uint16_t code, std::string_view reason) {
  // The close handshake is not awaited: the connection closes once our close frame is flushed
  // (the socket layer then drains what the client still sends for a moment).
  stop_reading();
  if (ws_finished_) return;
  ws_finished_ = true;
  ws_->on_close(code, reason);
}

void Connection::process_ws() {
  using Event = ws::Decoder::Event;
  size_t off = 0;
  // Not while the output is over its mark: a peer that sends pings but does not read its pongs.
  while (!stopped_ && !ws_paused_ && off < in_.size() && out_.size() <= limits_.output_high_water) {
    size_t used = 0;
    Event ev = ws_decoder_->next(in_.data() + off, in_.size() - off, used);
    off += used;
    if (ev == Event::NeedMore) break;
    ws::Decoder& d = *ws_decoder_;
    switch (ev) {
      case Event::Message:
        if (!ws_->on_message(d.text(), d.payload())) ws_paused_ = true;
        break;
      case Event::Ping:
        if (!ws_close_sent_) ws::write_frame(out_, ws::kPong, d.payload());
        break;
      case Event::Pong: break;
      case Event::Close:
        if (!ws_close_sent_) {  // the reply echoes the peer's code
          ws::write_close(out_, d.code(), {});
          ws_close_sent_ = true;
        }
        finish_ws(d.code(), d.reason());
        break;
      case Event::Error:
        if (!ws_close_sent_) {
          ws::write_close(out_, d.code(), {});
          ws_close_sent_ = true;
        }
        finish_ws(d.code(), {});
        break;
      case Event::NeedMore: break;
    }
  }
  if (stopped_) return;  // (stop_reading() cleared the input)
  in_.consume(off);
  if (eof_ && in_.empty()) {
    finish_ws(ws::kAbnormal, {});  // EOF without a close frame
    return;
  }
  if (ws_want_writable_ && out_.empty()) {
    ws_want_writable_ = false;
    ws_->on_writable();
  }
}

int Connection::scan_head() {
  const char* d = in_.data();
  const size_t n = in_.size();
  const size_t max_rl = limits_.max_request_line;
  const size_t max_head = limits_.max_head;
  // The request line is over its limit: if the head limit was crossed at an earlier byte (only
  // possible when max_head < max_request_line), that one answers, as it would have had the bytes
  // arrived one by one.
  auto line_too_long = [&]() {
    size_t at = line_start_ + max_rl + 1 + (d[line_start_ + max_rl] == '\r' ? 1 : 0);  // bytes when 414 fires
    return at > max_head + 1 ? 431 : 414;
  };
  while (scanned_ < n) {
    const char* nl = static_cast<const char*>(std::memchr(d + scanned_, '\n', n - scanned_));
    if (!nl) {
      scanned_ = n;
      break;
    }
    size_t e = static_cast<size_t>(nl - d);  // index of the LF
    scanned_ = e + 1;
    size_t raw = e - line_start_;
    char last = raw ? d[e - 1] : '\0';
    if (lines_ == 0 && line_overflow(raw, last, max_rl)) return line_too_long();
    if (e + 1 > max_head) return 431;
    if (last != '\r') return 400;  // bare LF (RFC 9112 2.2: we do not accept LF alone)
    size_t len = raw - 1;
    if (len == 0) {
      if (lines_ == 0) {  // empty line(s) before the request-line: ignored (RFC 9112 2.2)
        line_start_ = scanned_;
        continue;
      }
      head_len_ = scanned_;
      return 1;
    }
    int st;
    if (lines_ == 0) {
      st = detail::parse_request_line(d + line_start_, len, uint32_t(line_start_), rl_);
    } else {
      uint32_t i = lines_ - 1;
      if (i >= max_headers()) return 431;
      st = detail::parse_field_line(d + line_start_, len, uint32_t(line_start_), names_[i], values_[i]);
    }
    if (st) return st;
    ++lines_;
    line_start_ = scanned_;
  }
  size_t avail = n - line_start_;
  if (lines_ == 0 && avail && line_overflow(avail, d[n - 1], max_rl)) return line_too_long();
  if (n > max_head) return 431;
  return 0;
}

void Connection::materialize() {
  const char* b = in_.data();
  auto v = [b](Span s) { return std::string_view(b + s.off, s.len); };
  Request& r = req_;
  r.method = v(rl_.method);
  r.target = v(rl_.target);
  r.path = rl_.default_path ? std::string_view("/") : v(rl_.path);
  r.query = v(rl_.query);
  uint32_t nh = lines_ - 1;
  for (uint32_t i = 0; i < nh; ++i) r.headers[i] = Header{v(names_[i]), v(values_[i])};
  r.num_headers = nh;
  if (rl_.authority.len)
    r.host = v(rl_.authority);  // absolute-form: the target's authority wins
  else
    r.host = host_idx_ >= 0 ? r.headers[host_idx_].value : std::string_view();
  r.content_type = ctype_idx_ >= 0 ? r.headers[ctype_idx_].value : std::string_view();
}

int Connection::finish_head() {
  host_idx_ = -1;
  ctype_idx_ = -1;
  views_stale_ = false;
  materialize();
  Request& r = req_;
  r.version_minor = rl_.minor;
  r.keep_alive = true;
  r.expect_continue = false;
  r.chunked = false;
  r.content_length = 0;
  r.body = {};
  r.websocket_upgrade = false;

  int hosts = 0, cls = 0;
  bool te = false, confusable = false, expect = false, expect_100 = false, expect_other = false;
  bool conn_close = false, conn_keep_alive = false, upgrade_websocket = false;
  std::string_view cl;
  detail::TeState tes;
  for (uint32_t i = 0; i < r.num_headers; ++i) {
    std::string_view name = r.headers[i].name, value = r.headers[i].value;
    switch (name.size()) {
      case 4:
        if (iequals(name, "host")) {
          ++hosts;
          host_idx_ = int16_t(i);
        }
        break;
      case 6:
        if (iequals(name, "expect")) {
          expect = true;
          for_each_element(value, [&](std::string_view e) {
            if (iequals(e, "100-continue"))
              expect_100 = true;
            else
              expect_other = true;
          });
        }
        break;
      case 7:
        if (iequals(name, "upgrade")) {
          for_each_element(value, [&](std::string_view t) {
            if (iequals(t, "websocket")) upgrade_websocket = true;
          });
        }
        break;
      case 10:
        if (iequals(name, "connection")) {
          for_each_element(value, [&](std::string_view t) {
            if (iequals(t, "close"))
              conn_close = true;
            else if (iequals(t, "keep-alive"))
              conn_keep_alive = true;
          });
        }
        break;
      case 12:
        if (ctype_idx_ < 0 && iequals(name, "content-type")) ctype_idx_ = int16_t(i);
        break;
      case 14:
        if (iequals(name, "content-length")) {
          ++cls;
          cl = value;
        } else if (confusable_framing_name(name)) {
          confusable = true;
        }
        break;
      case 17:
        if (iequals(name, "transfer-encoding")) {
          te = true;
          detail::scan_transfer_encoding(value, tes);
        } else if (confusable_framing_name(name)) {
          confusable = true;
        }
        break;
      default: break;
    }
  }

  // Host (RFC 9112 3.2): exactly one on HTTP/1.1, at most one on 1.0, a valid uri-host[:port].
  if (hosts > 1) return 400;
  if (hosts == 0) {
    if (r.version_minor == 1) return 400;
  } else if (!detail::valid_host(r.headers[host_idx_].value)) {
    return 400;
  }
  if (rl_.authority.len)
    r.host = std::string_view(in_.data() + rl_.authority.off, rl_.authority.len);
  else
    r.host = hosts ? r.headers[host_idx_].value : std::string_view();
  r.content_type = ctype_idx_ >= 0 ? r.headers[ctype_idx_].value : std::string_view();
  if (confusable) return 400;

  // Framing (RFC 9112 6.1-6.3).
  if (te) {
    if (r.version_minor == 0) return 400;  // chunked is not HTTP/1.0: cannot frame it reliably
    if (cls) return 400;                   // TE + CL: a smuggling attempt; reject and close
    int st = detail::te_status(tes);
    if (st) return st;
    r.chunked = true;
  } else if (cls) {
    if (cls > 1) return 400;  // repeated Content-Length (even identical): rejected
    if (cl.empty()) return 400;
    uint64_t v = 0;
    for (char c : cl) {
      if (c < '0' || c > '9') return 400;  // 1*DIGIT: no sign, no list, no spaces
      unsigned d = unsigned(c - '0');
      v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;  // saturate: then 413
    }
    r.content_length = v;
  }

  // Expect (RFC 9110 10.1.1): HTTP/1.0 expectations are ignored.
  if (expect && r.version_minor == 1) {
    if (expect_other) return 417;
    r.expect_continue = expect_100;
  }
  conn_keep_alive_ = r.version_minor == 1 ? !conn_close : (conn_keep_alive && !conn_close);
  r.is_head = r.method == "HEAD";
  r.websocket_upgrade = upgrade_websocket && r.method == "GET";

  if (r.chunked || r.content_length > 0) {
    body_limit_ = dispatcher_.body_limit(r);
    if (!r.chunked && r.content_length > body_limit_) return 413;
    // (a streamed body too: the client sends it, whether the handler reads it or not)
    if (r.expect_continue && in_.size() == head_len_) out_.append(kContinue);
    streaming_ = dispatcher_.stream_body(r);
    body_received_ = 0;
    if (r.chunked) {
      phase_ = Phase::BodyChunked;
      pos_ = tscan_ = head_len_;
      chunk_state_ = kSizeStart;
      chunk_remaining_ = 0;
      chunk_digits_ = ext_bytes_ = trailer_bytes_ = trailer_count_ = 0;
      body_.clear();
      return 0;
    }
  }
  phase_ = Phase::BodyLength;
  return 0;
}

// One byte of a chunk extension (RFC 9112 7.1.1: *( BWS ";" BWS ext-name [ BWS "=" BWS
// ext-value ] ), read and dropped): the state after `c`, or -1 for a byte the grammar does not
// allow there. kSizeLF: the CR that ends the chunk-size line.
static int next_ext_state(uint8_t s, char c) {
  const bool ows = is_ows(c), tchar = is(detail::kTchar, c);
  switch (s) {
    case kExtPreBws: return c == ';' ? kExtNameBws : ows ? s : -1;
    case kExtNameBws: return tchar ? kExtName : ows ? s : -1;
    case kExtName:
      return tchar       ? s
             : c == '='  ? kExtValBws
             : c == ';'  ? kExtNameBws
             : c == '\r' ? kSizeLF
             : ows       ? kExtAfterName
                         : -1;
    case kExtAfterName: return c == '=' ? kExtValBws : c == ';' ? kExtNameBws : ows ? s : -1;
    case kExtValBws: return c == '"' ? kExtQuoted : tchar ? kExtToken : ows ? s : -1;
    case kExtToken: return tchar ? s : c == ';' ? kExtNameBws : c == '\r' ? kSizeLF : ows ? kExtPreBws : -1;
    case kExtQuoted: return c == '"' ? kExtAfterQuoted : c == '\\' ? kExtQuotedPair : is(detail::kQdtext, c) ? s : -1;
    case kExtQuotedPair: return is(detail::kFieldVal, c) ? kExtQuoted : -1;
    case kExtAfterQuoted: return c == ';' ? kExtNameBws : c == '\r' ? kSizeLF : ows ? kExtPreBws : -1;
    default: return -1;
  }
}

int Connection::decode_chunked() {
  char* d = in_.data();
  const size_t n = in_.size();
  const size_t max_head = limits_.max_head;
  size_t p = pos_;
  bool partial_line = false;
  // Streamed: data is decoded in place, to the front ([head_len_, dec)), at most kDeliverMax per
  // call, and delivered by the caller; the framing never reaches the sink.
  size_t dec = head_len_;
  while (p < n && !partial_line && dec - head_len_ < kDeliverMax) {
    char c = d[p];
    uint8_t s = chunk_state_;
    if (s >= kExtPreBws && s <= kExtAfterQuoted && ++ext_bytes_ > max_head) return 400;
    switch (s) {
      case kSizeStart: {
        int h = hex_value(c);
        if (h < 0) return 400;  // no sign, no whitespace, no "0x"
        chunk_remaining_ = uint64_t(h);
        chunk_digits_ = 1;
        chunk_state_ = kSize;
        if (chunk_remaining_ > body_limit_ - body_size()) return 413;
        ++p;
        break;
      }
      case kSize: {
        int h = hex_value(c);
        if (h >= 0) {
          if (++chunk_digits_ > kMaxChunkDigits) return 400;
          chunk_remaining_ = chunk_remaining_ * 16 + uint64_t(h);
        } else if (c == '\r') {
          chunk_state_ = kSizeLF;
        } else if (c == ';') {
          chunk_state_ = kExtNameBws;
        } else if (is_ows(c)) {
          chunk_state_ = kExtPreBws;
        } else {
          return 400;
        }
        if (chunk_remaining_ > body_limit_ - body_size()) return 413;
        ++p;
        break;
      }
      case kExtPreBws:
      case kExtNameBws:
      case kExtName:
      case kExtAfterName:
      case kExtValBws:
      case kExtToken:
      case kExtQuoted:
      case kExtQuotedPair:
      case kExtAfterQuoted: {
        const int next = next_ext_state(s, c);
        if (next < 0) return 400;
        chunk_state_ = uint8_t(next);
        ++p;
        break;
      }
      case kSizeLF:
        if (c != '\n') return 400;
        ++p;
        if (chunk_remaining_ == 0) {  // last-chunk: the trailer section follows
          chunk_state_ = kTrailer;
          tscan_ = p;
          trailer_bytes_ = trailer_count_ = 0;
        } else {
          chunk_state_ = kData;
        }
        break;
      case kData: {
        size_t take = size_t(std::min<uint64_t>(chunk_remaining_, n - p));
        if (streaming_) {
          take = std::min(take, kDeliverMax - (dec - head_len_));
          std::memmove(d + dec, d + p, take);
          dec += take;
          body_received_ += take;
        } else {
          body_.append(d + p, take);
        }
        p += take;
        chunk_remaining_ -= take;
        if (chunk_remaining_ == 0) chunk_state_ = kDataCR;
        break;
      }
      case kDataCR:
        if (c != '\r') return 400;
        chunk_state_ = kDataLF;
        ++p;
        break;
      case kDataLF:
        if (c != '\n') return 400;
        chunk_state_ = kSizeStart;
        ++p;
        break;
      case kTrailer: {
        // Trailer fields are checked like header fields, bounded by the head limits, and
        // dropped (never merged into the header section).
        if (tscan_ < p) tscan_ = p;
        const char* nl = static_cast<const char*>(std::memchr(d + tscan_, '\n', n - tscan_));
        if (!nl) {
          tscan_ = n;
          if (trailer_bytes_ + (n - p) > max_head) return 431;
          partial_line = true;
          break;
        }
        size_t e = static_cast<size_t>(nl - d);
        size_t raw = e - p;
        if (trailer_bytes_ + raw + 1 > max_head) return 431;
        trailer_bytes_ += uint32_t(raw + 1);
        if (raw == 0 || d[e - 1] != '\r') return 400;
        if (raw == 1) {
          pos_ = e + 1;
          decoded_ = dec - head_len_;
          return 1;
        }
        if (++trailer_count_ > max_headers()) return 431;
        Span nm, val;
        if (detail::parse_field_line(d + p, raw - 1, 0, nm, val)) return 400;
        p = e + 1;
        tscan_ = p;
        break;
      }
      default: return 400;
    }
  }
  // Drop the framing and data already decoded: only the head, the decoded bytes still to deliver
  // (streamed) and the unprocessed tail (a partial trailer line at most) stay buffered, so raw
  // chunked bytes never accumulate.
  size_t drop = p - dec;
  if (drop) {
    std::memmove(d + dec, d + p, n - p);
    in_.truncate(n - drop);
    tscan_ = tscan_ > p ? tscan_ - drop : dec;
  }
  pos_ = dec;
  decoded_ = dec - head_len_;
  return 0;
}

void Connection::dispatch(size_t consumed) {
  if (views_stale_) materialize();  // the input may have moved while the body arrived
  views_stale_ = false;
  Request& r = req_;
  if (r.chunked) {
    r.body = body_;
    r.content_length = body_.size();
  } else {
    r.body = std::string_view(in_.data() + head_len_, size_t(r.content_length));
  }
  // A request after which the connection closes (Connection: close, HTTP/1.0, draining, or
  // the peer already half-closed with nothing more buffered) is answered with keep_alive false,
  // so the response carries "Connection: close".
  bool keep = conn_keep_alive_ && !draining_ && !(eof_ && in_.size() == consumed);
  r.keep_alive = keep;
  out_.last_status = 0;
  HandleResult hr = dispatcher_.handle(r, out_);

  in_.consume(consumed);
  phase_ = Phase::Head;
  scanned_ = line_start_ = head_len_ = 0;
  lines_ = 0;
  if (r.chunked) {
    if (body_.capacity() > kKeepBody)
      std::string().swap(body_);
    else
      body_.clear();
  }
  if (hr == HandleResult::Pending) {
    pending_ = true;
  } else {
    ++served_;
    dispatcher_.response_end(out_.last_status);
  }
  if (!keep || close_requested_) {
    stop_reading();
    return;
  }
  if (in_.empty() && in_.capacity() > kKeepInput) in_.shrink(kKeepInput / 4);
}

// ---- streamed request bodies ---------------------------------------------------------------------
// The head is dispatched as soon as it is complete; the body is then decoded as it arrives (the
// same framing code, limits and verdicts as a buffered body) and handed to the dispatcher's sink
// in pieces of at most kDeliverMax, never accumulated. The input is consumed while the response
// is pending (the sink's own backpressure holds it); once the body is over, the connection reads
// the next head when the response is complete, as for any request.

void Connection::dispatch_head() {
  Request& r = req_;
  r.body = {};
  r.body_streamed = true;
  // As dispatch() decides, from what is known now: a client that already half-closed with no
  // more than this body buffered is told "Connection: close".
  uint64_t known = r.chunked ? 0 : r.content_length;
  bool keep = conn_keep_alive_ && !draining_ && !(eof_ && in_.size() - head_len_ <= known);
  r.keep_alive = keep;
  if (r.chunked) r.content_length = 0;
  body_left_ = r.content_length;
  body_failure_ = 0;
  body_paused_ = false;
  sink_.reset();
  out_.last_status = 0;
  HandleResult hr = dispatcher_.handle(r, out_);
  r.body_streamed = false;

  // The head's views died with handle(): drop its bytes; the body's offsets start at 0.
  in_.consume(head_len_);
  pos_ = tscan_ = 0;
  scanned_ = line_start_ = head_len_ = 0;
  lines_ = 0;
  close_after_body_ = !keep || close_requested_;
  if (hr == HandleResult::Pending) {
    pending_ = true;
  } else {
    ++served_;
    dispatcher_.response_end(out_.last_status);
    drop_body();
  }
}

void Connection::attach_body(std::shared_ptr<BodySink> sink) {
  if (streaming_) sink_ = std::move(sink);
}

void Connection::resume_body() {
  if (!body_paused_) return;
  body_paused_ = false;
  if (!stopped_) process();
}

bool Connection::deliver(size_t n) {
  if (std::shared_ptr<BodySink> s = sink_) {  // (kept alive: the callee may detach it)
    bool more = s->on_chunk(std::string_view(in_.data(), n));
    if (!more && sink_ == s) body_paused_ = true;
  }
  if (stopped_) return false;  // (stop_reading() cleared the input)
  in_.consume(n);
  return true;
}

bool Connection::stream_length() {
  size_t n = size_t(std::min<uint64_t>({body_left_, in_.size(), kDeliverMax}));
  if (n) {
    body_left_ -= n;
    if (!deliver(n)) return false;
  }
  if (body_left_ == 0) {
    end_body();
    return true;
  }
  if (n) return true;
  if (eof_) abort_body(0);  // cut short by the client
  return false;
}

bool Connection::stream_chunked() {
  decoded_ = 0;
  int r = decode_chunked();
  if (r != 0 && r != 1) {
    abort_body(r);
    return false;
  }
  size_t framing_end = pos_;  // (r == 1: past the trailer section)
  size_t n = decoded_;
  if (n && !deliver(n)) return false;
  pos_ -= n;
  tscan_ = tscan_ > n ? tscan_ - n : 0;
  if (r == 1) {
    in_.consume(framing_end - n);
    end_body();
    return true;
  }
  if (n) return true;
  if (eof_) abort_body(0);
  return false;
}

void Connection::end_body() {
  std::shared_ptr<BodySink> s = std::move(sink_);
  streaming_ = body_paused_ = false;
  phase_ = Phase::Head;
  pos_ = tscan_ = 0;
  if (body_.capacity() > kKeepBody) std::string().swap(body_);
  if (close_after_body_ || draining_) stop_reading();
  if (s) s->on_end();  // last: the sink may complete the response from here
  if (!stopped_ && !pending_ && in_.empty() && in_.capacity() > kKeepInput) in_.shrink(kKeepInput / 4);
}

void Connection::abort_body(int status) {
  body_failure_ = status;
  stop_reading();  // (detaches the sink: on_abort)
}

// The response to a streamed request is complete before its body: the rest is read and discarded
// (the next request follows it), or not read at all when the connection closes after this one.
void Connection::drop_body() {
  detach_body();
  if (close_after_body_) stop_reading();
}

void Connection::detach_body() {
  streaming_ = streaming_ && !stopped_;  // a discarded body is still read, unless reading stopped
  body_paused_ = false;
  if (std::shared_ptr<BodySink> s = std::move(sink_)) s->on_abort();
}

}  // namespace fasterapi::http
