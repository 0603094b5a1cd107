// HTTP/2 server session: nghttp2's server session API with callbacks, each stream adapted to an
// http::Connection of its own (session.hpp says why and how).
#include "http2/session.hpp"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <new>

#include "http/ascii.hpp"
#include "server/loop.hpp"

namespace fasterapi::http2 {

namespace {

using http::has_token;
using http::iequals;

// Response fields that are HTTP/1.1 connection-specific (RFC 9113 8.2.2): never sent on h2.
bool hop_by_hop(std::string_view name) {
  return iequals(name, "connection") || iequals(name, "keep-alive") || iequals(name, "transfer-encoding") ||
         iequals(name, "upgrade") || iequals(name, "proxy-connection") || iequals(name, "te");
}

}  // namespace

namespace {

int b64url(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-' || c == '+') return 62;
  if (c == '_' || c == '/') return 63;
  return -1;
}

}  // namespace

bool available() { return true; }

bool parse_h2c_upgrade(std::string_view data, size_t max_head, std::string& request, std::string& settings,
                       size_t& used) {
  size_t end = data.find("\r\n\r\n");
  if (end == std::string_view::npos || end + 4 > max_head) return false;
  std::string_view head = data.substr(0, end + 2);
  size_t p = head.find("\r\n");
  std::string_view line = head.substr(0, p);
  if (line.size() < 14 || line.substr(line.size() - 9) != " HTTP/1.1") return false;
  bool upgrade = false, conn_ok = false, body = false;
  int nsettings = 0;
  std::string_view payload;
  std::string rebuilt(line);
  rebuilt += "\r\n";
  p += 2;
  while (p < head.size()) {
    size_t e = head.find("\r\n", p);
    std::string_view field = head.substr(p, e - p);
    p = e + 2;
    size_t colon = field.find(':');
    if (colon == std::string_view::npos) return false;
    std::string_view name = field.substr(0, colon), value = field.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (iequals(name, "upgrade")) {
      upgrade = upgrade || has_token(value, "h2c");
      continue;
    }
    if (iequals(name, "http2-settings")) {
      ++nsettings;
      payload = value;
      continue;
    }
    if (iequals(name, "connection")) {
      conn_ok = has_token(value, "upgrade") && has_token(value, "http2-settings");
      continue;
    }
    if (iequals(name, "transfer-encoding") || (iequals(name, "content-length") && value != "0")) body = true;
    rebuilt.append(field);
    rebuilt += "\r\n";
  }
  if (!upgrade || !conn_ok || nsettings != 1 || body) return false;
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : payload) {
    if (c == '=') break;
    int v = b64url(c);
    if (v < 0) return false;
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(char((acc >> bits) & 0xff));
    }
  }
  if (out.size() % 6 != 0) return false;  // SETTINGS entries are 6 bytes each
  rebuilt += "\r\n";
  request = std::move(rebuilt);
  settings = std::move(out);
  used = end + 4;
  return true;
}

// ---- one stream ---------------------------------------------------------------------------------

struct Session::Stream {
  enum class Body : uint8_t { None, Length, Chunked, UntilEnd, Tunnel };
  Session& session;
  int32_t id;
  std::unique_ptr<server::ConnectionDispatcher> dispatcher;  // (declared before proto: outlives it)
  http::Connection proto;
  // request
  std::string method, path, authority, cookies, protocol;
  bool websocket = false;  // RFC 8441: an extended CONNECT for a WebSocket (DATA carries its frames)
  bool eof_given = false;
  std::string fields;  // "name: value\r\n" for each regular field
  uint32_t field_bytes = 0, field_count = 0;
  bool has_length = false;
  bool chunked_in = false;  // no content-length: the body is given to proto chunked
  bool head_given = false;
  bool is_head = false;
  bool in_end = false;    // END_STREAM received
  std::string in;         // request bytes (head, framed body) not given to proto yet
  size_t unconsumed = 0;  // DATA bytes received and not yet consumed (the window to reopen)
  // response
  bool responded = false;  // HEADERS submitted
  bool deferred = false;   // the data provider said DEFERRED: resume_data() when there is more
  bool finished = false;   // END_STREAM of the response produced (or reset)
  Body body = Body::None;
  uint64_t left = 0;                    // Length: bytes still to send; Chunked: of the current chunk
  uint8_t chunk_state = 0;              // 0 size line, 1 data, 2 CRLF after data, 3 trailers
  uint64_t stalled_since = 0;           // >0: response bytes wait on a closed flow-control window
  uint64_t started = server::now_ms();  // the header block's deadline clock
  uint64_t last_in = started;           // the last request bytes (the body's deadline clock)
  bool timed_out = false;

  Stream(Session& s, int32_t i, std::unique_ptr<server::ConnectionDispatcher> d)
      : session(s), id(i), dispatcher(std::move(d)), proto(s.limits_, *dispatcher) {}
  ~Stream() { dispatcher->link->conn = nullptr; }  // a late response for it is dropped
};

// ---- nghttp2 callbacks --------------------------------------------------------------------------

struct Callbacks {
  static Session& S(void* u) { return *static_cast<Session*>(u); }

  static Session::Stream* find(Session& s, int32_t id) {
    auto it = s.streams_.find(id);
    return it == s.streams_.end() ? nullptr : it->second.get();
  }

  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* f, void* u) {
    Session& s = S(u);
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    if (s.draining_) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    try {
      auto d = s.make_();
      auto st = std::make_unique<Session::Stream>(s, f->hd.stream_id, std::move(d));
      std::weak_ptr<Session*> self = s.self_;
      int32_t id = f->hd.stream_id;
      st->dispatcher->link->conn = &st->proto;
      st->dispatcher->link->kick = [self, id] {
        if (auto p = self.lock(); p && *p) (*p)->kick_stream(id);
      };
      s.streams_[id] = std::move(st);
    } catch (const std::bad_alloc&) { return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; }
    return 0;
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* f, const uint8_t* n, size_t nl, const uint8_t* v,
                       size_t vl, uint8_t, void* u) {
    Session& s = S(u);
    Session::Stream* st = find(s, f->hd.stream_id);
    if (!st || st->head_given) return 0;  // (trailers: dropped, as HTTP/1.1 trailers are)
    std::string_view name(reinterpret_cast<const char*>(n), nl), value(reinterpret_cast<const char*>(v), vl);
    // The header list is bounded as an HTTP/1.1 head is (max_head bytes, max_headers fields):
    // over either, the connection ends with ENHANCE_YOUR_CALM (a CONTINUATION flood is also
    // bounded by nghttp2's max_continuations).
    st->field_bytes += uint32_t(nl + vl + 4);
    if (++st->field_count > s.limits_.max_headers + 8 || st->field_bytes > s.limits_.max_head) {
      nghttp2_session_terminate_session(s.ng_, kEnhanceYourCalm);
      s.goaway_code_ = kEnhanceYourCalm;
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    if (!name.empty() && name[0] == ':') {
      if (name == ":method")
        st->method = value;
      else if (name == ":path")
        st->path = value;
      else if (name == ":authority")
        st->authority = value;
      else if (name == ":protocol")
        st->protocol = value;
      return 0;
    }
    if (name == "cookie") {  // RFC 9113 8.2.3: split cookies are joined for HTTP/1.1
      if (!st->cookies.empty()) st->cookies += "; ";
      st->cookies.append(value);
      return 0;
    }
    if (name == "host") {
      if (st->authority.empty()) st->authority = value;
      return 0;
    }
    if (name == "te" || name == "expect") return 0;  // (te: trailers only, checked by nghttp2)
    if (name == "content-length") st->has_length = true;
    st->fields.append(name);
    st->fields.append(": ");
    st->fields.append(value);
    st->fields.append("\r\n");
    return 0;
  }

  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* f, void* u) {
    Session& s = S(u);
    if (f->hd.type == NGHTTP2_SETTINGS) s.await_client_ = false;
    uint64_t now = server::now_ms();
    switch (f->hd.type) {
      // (WINDOW_UPDATE is not counted: a client with a small window sends one per few KiB of a
      // response; a flood of them is nghttp2's FLOW_CONTROL_ERROR once a window overflows)
      case NGHTTP2_PING:
      case NGHTTP2_SETTINGS:
      case NGHTTP2_PRIORITY:
      case NGHTTP2_RST_STREAM:
        if (!(f->hd.flags & NGHTTP2_FLAG_ACK) && !s.control_frame(now)) return 0;
        break;
      default: break;
    }
    Session::Stream* st = find(s, f->hd.stream_id);
    if (!st) return 0;
    bool end = f->hd.flags & NGHTTP2_FLAG_END_STREAM;
    if (f->hd.type == NGHTTP2_HEADERS && !st->head_given) {
      std::string& h = st->in;
      h.reserve(st->method.size() + st->path.size() + st->fields.size() + 64);
      // RFC 8441: the WebSocket handshake of HTTP/1.1 (its key only satisfies the handshake check;
      // the accept value it produces is not sent on h2), then the stream carries the frames.
      st->websocket = st->method == "CONNECT" && st->protocol == "websocket";
      h.append(st->websocket ? std::string_view("GET") : std::string_view(st->method));
      h.push_back(' ');
      h.append(st->path);
      h.append(" HTTP/1.1\r\nhost: ");
      h.append(st->authority);
      h.append("\r\n");
      if (st->websocket) {
        h.append("upgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n");
        if (st->fields.find("sec-websocket-version:") == std::string::npos) h.append("sec-websocket-version: 13\r\n");
      }
      h.append(st->fields);
      if (!st->cookies.empty()) {
        h.append("cookie: ");
        h.append(st->cookies);
        h.append("\r\n");
      }
      if (!end && !st->has_length && !st->websocket) {
        h.append("transfer-encoding: chunked\r\n");
        st->chunked_in = true;
      }
      h.append("\r\n");
      st->head_given = true;
      st->is_head = st->method == "HEAD";
      std::string().swap(st->fields);
      std::string().swap(st->cookies);
    } else if (f->hd.type == NGHTTP2_DATA && !end && f->hd.length == 0) {
      if (!s.control_frame(now)) return 0;  // empty DATA frames: a flood
    }
    if (end && !st->in_end) {
      st->in_end = true;
      if (st->chunked_in) st->in.append("0\r\n\r\n");
    }
    s.dirty_ = true;
    return 0;
  }

  static int on_data_chunk(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len, void* u) {
    Session& s = S(u);
    Session::Stream* st = find(s, id);
    if (!st) {
      nghttp2_session_consume(s.ng_, id, len);
      return 0;
    }
    if (st->chunked_in) {
      char size[20];
      auto [p, ec] = std::to_chars(size, size + sizeof size, len, 16);
      (void)ec;
      st->in.append(size, size_t(p - size));
      st->in.append("\r\n");
      st->in.append(reinterpret_cast<const char*>(data), len);
      st->in.append("\r\n");
    } else {
      st->in.append(reinterpret_cast<const char*>(data), len);
    }
    st->unconsumed += len;
    st->last_in = server::now_ms();
    s.dirty_ = true;
    return 0;
  }

  static int on_stream_close(nghttp2_session*, int32_t id, uint32_t, void* u) {
    Session& s = S(u);
    auto it = s.streams_.find(id);
    if (it == s.streams_.end()) return 0;
    s.graveyard_.push_back(std::move(it->second));
    s.streams_.erase(it);
    return 0;
  }

  static int on_frame_send(nghttp2_session*, const nghttp2_frame* f, void* u) {
    Session& s = S(u);
    if (f->hd.type == NGHTTP2_GOAWAY) s.goaway_code_ = f->goaway.error_code;
    // Our response is complete while the client still sends its body: it is not needed (RFC 9113
    // 8.1), RST_STREAM(NO_ERROR) so the client stops.
    if ((f->hd.flags & NGHTTP2_FLAG_END_STREAM) && (f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS)) {
      if (Session::Stream* st = find(s, f->hd.stream_id)) {
        st->finished = true;
        ++s.served_;
        if (!st->in_end) nghttp2_submit_rst_stream(s.ng_, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR);
      }
    }
    return 0;
  }

  // The response body, pulled by nghttp2 as the flow-control windows allow: taken from the
  // stream's Connection output (its HTTP/1.1 framing removed).
  static ssize_t read_body(nghttp2_session*, int32_t id, uint8_t* buf, size_t length, uint32_t* flags,
                           nghttp2_data_source*, void* u) {
    Session& s = S(u);
    Session::Stream* st = find(s, id);
    if (!st) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    http::Buffer& out = st->proto.output();
    out.materialize();
    size_t n = 0;
    bool eof = false;
    using Body = Session::Stream::Body;
    while (n < length && !eof) {
      const char* d = out.data();
      size_t avail = out.size();
      if (st->body == Body::Length) {
        size_t take = size_t(std::min<uint64_t>({st->left, avail, length - n}));
        std::memcpy(buf + n, d, take);
        out.consume(take);
        n += take;
        st->left -= take;
        if (st->left == 0) eof = true;
        if (take == 0) break;
      } else if (st->body == Body::UntilEnd || st->body == Body::Tunnel) {
        size_t take = std::min(avail, length - n);
        std::memcpy(buf + n, d, take);
        out.consume(take);
        n += take;
        if (take == 0) {
          // (a WebSocket ends once it closed: its close frame is out)
          if (st->body == Body::Tunnel ? st->proto.reading_stopped() : !st->proto.pending()) eof = true;
          break;
        }
      } else {  // chunked
        if (st->chunk_state == 0 || st->chunk_state == 3) {
          const void* nl = avail ? std::memchr(d, '\n', avail) : nullptr;
          if (!nl) break;
          size_t line = size_t(static_cast<const char*>(nl) - d) + 1;
          if (st->chunk_state == 3) {
            out.consume(line);
            if (line <= 2) eof = true;  // the empty line after the last chunk (trailers dropped)
            continue;
          }
          uint64_t size = 0;
          size_t i = 0;
          for (; i < line; ++i) {
            int h = http::detail::hex_value(d[i]);
            if (h < 0) break;
            size = size * 16 + uint64_t(h);
          }
          out.consume(line);
          st->left = size;
          st->chunk_state = size ? 1 : 3;
        } else if (st->chunk_state == 1) {
          size_t take = size_t(std::min<uint64_t>({st->left, avail, length - n}));
          std::memcpy(buf + n, d, take);
          out.consume(take);
          n += take;
          st->left -= take;
          if (st->left == 0) st->chunk_state = 2;
          if (take == 0) break;
        } else {  // CRLF after the data
          if (avail < 2) break;
          out.consume(2);
          st->chunk_state = 0;
        }
      }
    }
    if (eof) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      return ssize_t(n);
    }
    if (n) return ssize_t(n);
    if (st->body != Session::Stream::Body::Tunnel && !st->proto.pending() && st->proto.output().empty()) {
      // The response ended before its body did (a streamed response cut short, the handler
      // failed): the stream is reset, never made to look complete.
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    st->deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }
};

// ---- the session --------------------------------------------------------------------------------

Session::Session(const http::Limits& limits, const Settings& settings, MakeDispatcher make,
                 std::function<void()> kick_conn, std::string_view settings_payload, std::string upgrade_request)
    : limits_(limits),
      settings_(settings),
      make_(std::move(make)),
      kick_conn_(std::move(kick_conn)),
      self_(std::make_shared<Session*>(this)) {
  nghttp2_session_callbacks* cb = nullptr;
  if (nghttp2_session_callbacks_new(&cb) != 0) throw std::bad_alloc();
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, Callbacks::on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cb, Callbacks::on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, Callbacks::on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, Callbacks::on_data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, Callbacks::on_stream_close);
  nghttp2_session_callbacks_set_on_frame_send_callback(cb, Callbacks::on_frame_send);
  nghttp2_option* opt = nullptr;
  if (nghttp2_option_new(&opt) != 0) {
    nghttp2_session_callbacks_del(cb);
    throw std::bad_alloc();
  }
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_max_continuations(opt, settings_.max_continuations);
  nghttp2_option_set_stream_reset_rate_limit(opt, settings_.reset_burst, settings_.reset_rate);
  nghttp2_option_set_max_settings(opt, 32);  // entries in one SETTINGS frame
  nghttp2_option_set_max_outbound_ack(opt, 1000);
  int rv = nghttp2_session_server_new2(&ng_, cb, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
  if (rv != 0) throw std::bad_alloc();
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, settings_.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, settings_.initial_window},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, limits_.max_head},
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1},
  };
  if (!upgrade_request.empty()) {
    const bool head = upgrade_request.compare(0, 5, "HEAD ") == 0;
    rv = nghttp2_session_upgrade2(ng_, reinterpret_cast<const uint8_t*>(settings_payload.data()),
                                  settings_payload.size(), head, nullptr);
    if (rv != 0) {
      nghttp2_session_del(ng_);
      ng_ = nullptr;
      throw std::invalid_argument("HTTP2-Settings");
    }
  }
  nghttp2_submit_settings(ng_, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]);
  // The connection window: room for every stream's window, so one stalled stream (a handler not
  // reading its body) never starves the others.
  nghttp2_session_set_local_window_size(
      ng_, NGHTTP2_FLAG_NONE, 0,
      int32_t(
          std::min<uint64_t>(uint64_t(settings_.initial_window) * settings_.max_concurrent_streams, (1u << 31) - 1)));
  if (!upgrade_request.empty()) {
    out_.append("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n");
    start_upgraded(std::move(upgrade_request));
    await_client_ = true;
  }
  pump();
}

Session::~Session() {
  *self_ = nullptr;
  streams_.clear();
  graveyard_.clear();
  if (ng_) nghttp2_session_del(ng_);
}

// `Upgrade: h2c`: the HTTP/1.1 request that asked for it is stream 1 (half-closed remote).
void Session::start_upgraded(std::string request) {
  auto st = std::make_unique<Stream>(*this, 1, make_());
  std::weak_ptr<Session*> self = self_;
  st->dispatcher->link->conn = &st->proto;
  st->dispatcher->link->kick = [self] {
    if (auto p = self.lock(); p && *p) (*p)->kick_stream(1);
  };
  st->in = std::move(request);
  st->head_given = true;
  st->in_end = true;
  size_t sp = st->in.find(' ');
  st->is_head = sp == 4 && st->in.compare(0, 4, "HEAD") == 0;
  streams_[1] = std::move(st);
  dirty_ = true;
}

bool Session::control_frame(uint64_t now) {
  if (now - control_start_ >= settings_.control_window_ms) {
    control_start_ = now;
    control_count_ = 0;
  }
  if (++control_count_ <= settings_.max_control_frames) return true;
  terminate(kEnhanceYourCalm);
  return false;
}

void Session::terminate(uint32_t code) {
  if (!ng_ || done_) return;
  if (goaway_code_ < 0 || goaway_code_ == kNoError) goaway_code_ = code;
  if (nghttp2_session_terminate_session(ng_, code) != 0) done_ = true;
}

void Session::on_data(const char* data, size_t n) {
  if (done_ || !ng_) return;
  ++depth_;
  ssize_t rv = nghttp2_session_mem_recv(ng_, reinterpret_cast<const uint8_t*>(data), n);
  --depth_;
  if (rv < 0) {
    // A fatal error nghttp2 did not answer itself: a bad preface (not HTTP/2 at all), a flood of
    // frames it must acknowledge, a CONTINUATION flood.
    uint32_t code = rv == NGHTTP2_ERR_FLOODED ? kEnhanceYourCalm : kProtocolError;
    if (rv == NGHTTP2_ERR_BAD_CLIENT_MAGIC) {
      done_ = true;
    } else {
      terminate(code);
    }
  }
  pump();
}

void Session::on_eof() {
  // The client closed its side: nothing more arrives. Responses in progress are abandoned (h2
  // clients never half-close a connection they still expect answers on).
  done_ = true;
  streams_.clear();
}

void Session::shutdown() {
  if (draining_ || done_ || !ng_) return;
  draining_ = true;
  nghttp2_submit_goaway(ng_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(ng_), NGHTTP2_NO_ERROR, nullptr,
                        0);
  pump();
}

void Session::kick_stream(int32_t id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  dirty_ = true;
  if (depth_) return;  // the running entry point services it
  pump();
  if (kick_conn_) kick_conn_();
}

void Session::service(Stream& s) {
  // Input: the request head and body bytes, as far as the stream's Connection reads them.
  if (!s.in.empty() && !s.proto.read_paused()) {
    if (s.proto.reading_stopped()) {
      s.in.clear();
    } else {
      std::string chunk;
      chunk.swap(s.in);
      s.proto.on_data(chunk.data(), chunk.size());
    }
    if (s.unconsumed) {
      nghttp2_session_consume(ng_, s.id, s.unconsumed);
      s.unconsumed = 0;
    }
  }
  if (s.websocket && s.in_end && s.in.empty() && !s.eof_given) {  // the client ended its stream
    s.eof_given = true;
    s.proto.on_eof();
  }
  // Output: the response head once complete, then its body through the data provider.
  http::Buffer& out = s.proto.output();
  while (!s.responded && !s.finished) {
    out.materialize();
    std::string_view o = out.view();
    size_t end = o.find("\r\n\r\n");
    if (end == std::string_view::npos) {
      if (!s.proto.pending() && s.proto.reading_stopped() && o.empty()) {
        // No response and none coming (the stream's Connection gave up without one).
        nghttp2_submit_rst_stream(ng_, NGHTTP2_FLAG_NONE, s.id, NGHTTP2_INTERNAL_ERROR);
        s.finished = true;
      }
      return;
    }
    std::string_view head = o.substr(0, end + 2);
    int status = 0;
    if (head.size() >= 12) std::from_chars(head.data() + 9, head.data() + 12, status);
    if (status < 100 || status > 999) {
      nghttp2_submit_rst_stream(ng_, NGHTTP2_FLAG_NONE, s.id, NGHTTP2_INTERNAL_ERROR);
      s.finished = true;
      return;
    }
    if (status < 200 && !(s.websocket && status == 101)) {  // 100 Continue: no use on h2
      out.consume(end + 4);
      continue;
    }
    const bool tunnel = s.websocket && status == 101;  // RFC 8441: the accepted WebSocket is a 200
    char st3[3] = {head[9], head[10], head[11]};
    if (tunnel) st3[0] = '2', st3[1] = '0', st3[2] = '0';
    std::vector<std::string> names;
    std::vector<nghttp2_nv> nva;
    names.reserve(64);
    nva.push_back({(uint8_t*)":status", (uint8_t*)st3, 7, 3, NGHTTP2_NV_FLAG_NONE});
    bool chunked = false, has_len = false;
    uint64_t length = 0;
    size_t p = head.find("\r\n") + 2;
    while (p < head.size()) {
      size_t e = head.find("\r\n", p);
      std::string_view line = head.substr(p, e - p);
      p = e + 2;
      size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string_view name = line.substr(0, colon), value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
      if (iequals(name, "transfer-encoding")) {
        chunked = true;
        continue;
      }
      if (hop_by_hop(name) || (tunnel && iequals(name, "sec-websocket-accept"))) continue;
      if (iequals(name, "content-length")) {
        has_len = true;
        std::from_chars(value.data(), value.data() + value.size(), length);
      }
      std::string lower(name);
      for (char& c : lower)
        if (c >= 'A' && c <= 'Z') c = char(c + 32);
      names.push_back(std::move(lower));
      nva.push_back({nullptr, (uint8_t*)value.data(), 0, value.size(), NGHTTP2_NV_FLAG_NONE});
    }
    for (size_t i = 1, k = 0; i < nva.size(); ++i, ++k) {
      nva[i].name = reinterpret_cast<uint8_t*>(names[k].data());
      nva[i].namelen = names[k].size();
    }
    bool bodyless = s.is_head || status == 204 || status == 304;
    if (tunnel)
      s.body = Stream::Body::Tunnel;
    else if (bodyless)
      s.body = Stream::Body::None;
    else if (chunked)
      s.body = Stream::Body::Chunked;
    else if (has_len)
      s.body = length ? Stream::Body::Length : Stream::Body::None;
    else
      s.body = Stream::Body::UntilEnd;
    s.left = length;
    s.chunk_state = 0;
    nghttp2_data_provider dp;
    dp.source.ptr = &s;
    dp.read_callback = Callbacks::read_body;
    int rv = nghttp2_submit_response(ng_, s.id, nva.data(), nva.size(), s.body == Stream::Body::None ? nullptr : &dp);
    out.consume(end + 4);
    if (rv != 0) {
      nghttp2_submit_rst_stream(ng_, NGHTTP2_FLAG_NONE, s.id, NGHTTP2_INTERNAL_ERROR);
      s.finished = true;
      return;
    }
    s.responded = true;
    if (s.body == Stream::Body::None) {
      // A HEAD's or a 204's body, if the dispatcher wrote one: discarded.
      if (!s.proto.pending()) out.consume(out.size() + out.attached().size());
    }
  }
  if (s.responded && s.body == Stream::Body::None && !out.empty()) out.consume(out.size() + out.attached().size());
  if (s.body == Stream::Body::Tunnel && out.empty() && !s.proto.reading_stopped())
    s.proto.resume();  // (its output drained: a handler waiting to write is told, as on HTTP/1.1)
  const bool more = s.body == Stream::Body::Tunnel ? s.proto.reading_stopped() : !s.proto.pending();
  if (s.deferred && (!out.empty() || more)) {
    s.deferred = false;
    nghttp2_session_resume_data(ng_, s.id);
  }
}

void Session::flush_frames() {
  if (await_client_) return;
  // Frames nghttp2 has ready, pulled while the output is under its mark (the socket loop stops
  // reading above it, so a peer that does not read its PING ACKs stalls itself).
  while (out_.size() < limits_.output_high_water) {
    const uint8_t* p = nullptr;
    ssize_t n = nghttp2_session_mem_send(ng_, &p);
    if (n < 0) {
      done_ = true;
      return;
    }
    if (n == 0) break;
    out_.append(reinterpret_cast<const char*>(p), size_t(n));
  }
}

void Session::pump() {
  if (!ng_ || (done_ && streams_.empty())) {
    reap();
    return;
  }
  ++depth_;
  for (int round = 0; round < 8; ++round) {
    dirty_ = false;
    for (auto it = streams_.begin(); it != streams_.end();) {
      Stream& s = *it->second;
      ++it;  // (service may not erase: closes land in graveyard_ from nghttp2 callbacks only)
      if (!done_) service(s);
    }
    if (done_) break;
    flush_frames();
    if (!dirty_) break;
  }
  --depth_;
  if (!done_ && ng_ && !nghttp2_session_want_read(ng_) && !nghttp2_session_want_write(ng_)) done_ = true;
  reap();
}

void Session::reap() {
  if (depth_) return;
  while (!graveyard_.empty()) {
    std::vector<std::unique_ptr<Stream>> dead;
    dead.swap(graveyard_);
    dead.clear();  // (a destructor may call back: a dispatcher's response_end)
  }
}

void Session::sweep(uint64_t now, uint32_t write_timeout_ms, uint32_t header_timeout_ms, uint32_t body_timeout_ms) {
  if (done_ || !ng_) return;
  for (auto& [id, sp] : streams_) {
    Stream& s = *sp;
    if (header_timeout_ms && !s.head_given && now - s.started >= header_timeout_ms) {
      terminate(kEnhanceYourCalm);  // (an open header block stops the whole connection)
      pump();
      return;
    }
    if (body_timeout_ms && s.head_given && !s.in_end && !s.timed_out && !s.finished &&
        now - s.last_in >= body_timeout_ms && s.proto.reading_body() && s.in.empty() &&
        !s.proto.read_paused()) {  // (not waiting on us)
      s.timed_out = true;
      s.in.clear();
      s.proto.fail(408);
      dirty_ = true;
    }
    bool waiting = s.responded && !s.finished && s.body != Stream::Body::None && !s.proto.output().empty() &&
                   (nghttp2_session_get_stream_remote_window_size(ng_, id) <= 0 ||
                    nghttp2_session_get_remote_window_size(ng_) <= 0);
    if (!waiting) {
      s.stalled_since = 0;
      continue;
    }
    if (!s.stalled_since) s.stalled_since = now;
    if (now - s.stalled_since >= write_timeout_ms) {
      terminate(kEnhanceYourCalm);
      pump();
      return;
    }
  }
}

}  // namespace fasterapi::http2
