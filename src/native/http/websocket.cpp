#include "websocket.hpp"
#include "ascii.hpp"

#include <cstring>

namespace fasterapi::http::ws {
namespace {

bool is_b64(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

inline uint32_t rol(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

}  // namespace

int check_handshake(const Request& req, std::string_view& key) {
  int keys = 0, versions = 0;
  bool conn_upgrade = false;
  std::string_view version;
  for (uint32_t i = 0; i < req.num_headers; ++i) {
    const Header& h = req.headers[i];
    if (iequals(h.name, "connection")) {
      if (has_token(h.value, "upgrade")) conn_upgrade = true;
    } else if (iequals(h.name, "sec-websocket-key")) {
      ++keys;
      key = h.value;
    } else if (iequals(h.name, "sec-websocket-version")) {
      ++versions;
      version = h.value;
    }
  }
  if (req.version_minor != 1 || !conn_upgrade || req.chunked || req.content_length != 0) return 400;
  if (versions != 1 || version != "13") return 426;
  // The key: base64 of 16 bytes (24 characters, the last two '=').
  if (keys != 1 || key.size() != 24 || key[22] != '=' || key[23] != '=') return 400;
  for (size_t i = 0; i < 22; ++i)
    if (!is_b64(key[i])) return 400;
  return 0;
}

void sha1(std::string_view data, unsigned char out[20]) {
  uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  uint64_t bits = uint64_t(data.size()) * 8;
  // Message + 0x80 + zeros + 64-bit length, processed in 64-byte blocks.
  size_t total = ((data.size() + 8) / 64 + 1) * 64;
  unsigned char block[64];
  for (size_t off = 0; off < total; off += 64) {
    for (size_t i = 0; i < 64; ++i) {
      size_t p = off + i;
      unsigned char b;
      if (p < data.size())
        b = static_cast<unsigned char>(data[p]);
      else if (p == data.size())
        b = 0x80;
      else if (p >= total - 8)
        b = static_cast<unsigned char>(bits >> (8 * (total - 1 - p)));
      else
        b = 0;
      block[i] = b;
    }
    uint32_t w[80];
    for (int i = 0; i < 16; ++i)
      w[i] = uint32_t(block[4 * i]) << 24 | uint32_t(block[4 * i + 1]) << 16 | uint32_t(block[4 * i + 2]) << 8 |
             uint32_t(block[4 * i + 3]);
    for (int i = 16; i < 80; ++i) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; ++i) {
      uint32_t f, k;
      if (i < 20) {
        f = (b & c) | (~b & d);
        k = 0x5A827999;
      } else if (i < 40) {
        f = b ^ c ^ d;
        k = 0x6ED9EBA1;
      } else if (i < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8F1BBCDC;
      } else {
        f = b ^ c ^ d;
        k = 0xCA62C1D6;
      }
      uint32_t t = rol(a, 5) + f + e + k + w[i];
      e = d;
      d = c;
      c = rol(b, 30);
      b = a;
      a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
  }
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 4; ++j) out[4 * i + j] = static_cast<unsigned char>(h[i] >> (24 - 8 * j));
}

std::string base64(const unsigned char* d, size_t n) {
  static constexpr char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = uint32_t(d[i]) << 16 | (i + 1 < n ? uint32_t(d[i + 1]) << 8 : 0) | (i + 2 < n ? d[i + 2] : 0);
    out.push_back(tbl[(v >> 18) & 63]);
    out.push_back(tbl[(v >> 12) & 63]);
    out.push_back(i + 1 < n ? tbl[(v >> 6) & 63] : '=');
    out.push_back(i + 2 < n ? tbl[v & 63] : '=');
  }
  return out;
}

std::string accept_value(std::string_view key) {
  std::string s(key);
  s += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[20];
  sha1(s, digest);
  return base64(digest, 20);
}

bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size(), i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      // ASCII runs: 8 bytes at a time.
      while (i + 8 <= n) {
        uint64_t w;
        std::memcpy(&w, p + i, 8);
        if (w & 0x8080808080808080ULL) break;
        i += 8;
      }
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else
      return false;
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = cp << 6 | (p[i + k] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
      return false;  // overlong, surrogate, out of range
    i += len;
  }
  return true;
}

bool valid_close_code(uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

void write_frame(Buffer& out, Opcode op, std::string_view payload) {
  unsigned char h[10];
  size_t hl = 2;
  h[0] = static_cast<unsigned char>(0x80 | op);
  uint64_t n = payload.size();
  if (n < 126) {
    h[1] = static_cast<unsigned char>(n);
  } else if (n <= 0xFFFF) {
    h[1] = 126;
    h[2] = static_cast<unsigned char>(n >> 8);
    h[3] = static_cast<unsigned char>(n);
    hl = 4;
  } else {
    h[1] = 127;
    for (int i = 0; i < 8; ++i) h[2 + i] = static_cast<unsigned char>(n >> (56 - 8 * i));
    hl = 10;
  }
  out.append(reinterpret_cast<const char*>(h), hl);
  out.append(payload);
}

void write_close(Buffer& out, uint16_t code, std::string_view reason) {
  if (code == kNoStatus) {
    write_frame(out, kClose, {});
    return;
  }
  char p[125];
  p[0] = char(code >> 8);
  p[1] = char(code & 0xFF);
  size_t n = reason.size() < 123 ? reason.size() : 123;
  while (n > 0 && n < reason.size() && (static_cast<unsigned char>(reason[n]) & 0xC0) == 0x80) --n;  // whole characters
  if (n > 0) std::memcpy(p + 2, reason.data(), n);  // (an empty reason may have a null data())
  write_frame(out, kClose, std::string_view(p, n + 2));
}

// ---- the decoder -------------------------------------------------------------------------------

Decoder::Event Decoder::next(const char* data, size_t n, size_t& used) {
  used = 0;
  while (used < n) {
    if (!in_payload_) {
      while (head_len_ < head_need_ && used < n) head_[head_len_++] = static_cast<unsigned char>(data[used++]);
      if (head_len_ < head_need_) return Event::NeedMore;
      if (head_need_ == 2) {
        // The first two bytes decide the header's size: check them before waiting for the rest.
        if (head_[0] & 0x70) return fail(kProtocolError);     // RSV bits: no extension was negotiated
        if (!(head_[1] & 0x80)) return fail(kProtocolError);  // client frames must be masked
        uint8_t len7 = head_[1] & 0x7F;
        head_need_ = uint8_t(2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4);
        if (head_len_ < head_need_) continue;
      }
      Event ev = header_complete();
      if (ev != Event::NeedMore) return ev;
      if (remaining_ == 0) {
        ev = frame_complete();
        if (ev != Event::NeedMore) return ev;
      }
      continue;
    }
    size_t take = size_t(remaining_ < uint64_t(n - used) ? remaining_ : uint64_t(n - used));
    std::string& dst = opcode_ >= 0x8 ? control_ : message_;
    size_t at = dst.size();
    dst.append(data + used, take);
    char* q = dst.data() + at;
    for (size_t i = 0; i < take; ++i) q[i] = char(q[i] ^ mask_[(mask_pos_ + i) & 3]);
    mask_pos_ += take;
    used += take;
    remaining_ -= take;
    if (remaining_ == 0) {
      Event ev = frame_complete();
      if (ev != Event::NeedMore) return ev;
    }
  }
  return Event::NeedMore;
}

Decoder::Event Decoder::header_complete() {
  fin_ = head_[0] & 0x80;
  opcode_ = head_[0] & 0x0F;
  uint8_t len7 = head_[1] & 0x7F;
  uint64_t len = len7;
  size_t p = 2;
  if (len7 == 126) {
    len = uint64_t(head_[2]) << 8 | head_[3];
    p = 4;
  } else if (len7 == 127) {
    len = 0;
    for (int i = 0; i < 8; ++i) len = len << 8 | head_[2 + i];
    if (len >> 63) return fail(kProtocolError);
    p = 10;
  }
  std::memcpy(mask_, head_ + p, 4);
  mask_pos_ = 0;
  remaining_ = len;
  head_len_ = 0;
  head_need_ = 2;
  in_payload_ = true;
  if (opcode_ >= 0x8) {
    if (opcode_ != kClose && opcode_ != kPing && opcode_ != kPong) return fail(kProtocolError);
    if (!fin_ || len > 125) return fail(kProtocolError);  // control frames: whole, small
    control_.clear();
    return Event::NeedMore;
  }
  if (opcode_ == kCont) {
    if (!in_message_) return fail(kProtocolError);
  } else if (opcode_ == kText || opcode_ == kBinary) {
    if (in_message_) return fail(kProtocolError);  // a new message inside a fragmented one
    in_message_ = true;
    message_text_ = opcode_ == kText;
    if (message_.capacity() > 64 * 1024)
      std::string().swap(message_);  // after a large message
    else
      message_.clear();
  } else {
    return fail(kProtocolError);
  }
  if (len > max_message_ - message_.size()) return fail(kTooBig);
  return Event::NeedMore;
}

Decoder::Event Decoder::frame_complete() {
  in_payload_ = false;
  if (opcode_ >= 0x8) {
    in_control_ = true;
    if (opcode_ == kPing) return Event::Ping;
    if (opcode_ == kPong) return Event::Pong;
    if (control_.size() == 1) return fail(kProtocolError);
    if (control_.empty()) {
      code_ = kNoStatus;
      reason_ = {};
      return Event::Close;
    }
    code_ = uint16_t(uint16_t(static_cast<unsigned char>(control_[0])) << 8 | static_cast<unsigned char>(control_[1]));
    if (!valid_close_code(code_)) return fail(kProtocolError);
    reason_ = std::string_view(control_).substr(2);
    if (!valid_utf8(reason_)) return fail(kInvalidData);
    return Event::Close;
  }
  if (!fin_) return Event::NeedMore;
  in_message_ = false;
  in_control_ = false;
  if (message_text_ && !valid_utf8(message_)) return fail(kInvalidData);
  return Event::Message;
}

}  // namespace fasterapi::http::ws
