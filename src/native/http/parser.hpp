// Internal to http/: character classes and the line-level grammar of RFC 9112 / 9110 used by
// Connection. Lines are given without their CRLF; results are offsets (Span) relative to the
// start of the connection's input so that they survive a reallocation of the input buffer.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace fasterapi::http::detail {

enum : uint8_t {
  kTchar = 1,     // RFC 9110 tchar
  kFieldVal = 2,  // field-vchar / SP / HTAB (VCHAR, obs-text, SP, HTAB)
  kTarget = 4,    // bytes allowed in a request-target (VCHAR except '#')
  kHex = 8,       // HEXDIG
  kRegName = 16,  // reg-name bytes (unreserved / sub-delims except ',' / '%')
  kQdtext = 32,   // qdtext (HTAB, SP, VCHAR except '"' and '\\', obs-text)
};

constexpr std::array<uint8_t, 256> make_char_table() {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    uint8_t f = 0;
    bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    bool digit = c >= '0' && c <= '9';
    bool vchar = c >= 0x21 && c <= 0x7e;
    if (alpha || digit) f |= kTchar;
    switch (c) {
      case '!':
      case '#':
      case '$':
      case '%':
      case '&':
      case '\'':
      case '*':
      case '+':
      case '-':
      case '.':
      case '^':
      case '_':
      case '`':
      case '|':
      case '~': f |= kTchar; break;
      default: break;
    }
    if (vchar || c >= 0x80 || c == ' ' || c == '\t') f |= kFieldVal;
    if (vchar && c != '#') f |= kTarget;
    if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) f |= kHex;
    if (alpha || digit) f |= kRegName;
    switch (c) {
      case '-':
      case '.':
      case '_':
      case '~':
      case '%':  // unreserved, pct
      case '!':
      case '$':
      case '&':
      case '\'':
      case '(':
      case ')':
      case '*':  // sub-delims
      case '+':
      case ';':
      case '=':  // (not ',')
        f |= kRegName;
        break;
      default: break;
    }
    if (c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) || c >= 0x80)
      f |= kQdtext;
    t[c] = f;
  }
  return t;
}

inline constexpr std::array<uint8_t, 256> kCharTable = make_char_table();

inline bool is(uint8_t flag, char c) { return kCharTable[static_cast<unsigned char>(c)] & flag; }
inline bool is_ows(char c) { return c == ' ' || c == '\t'; }
inline int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// ASCII case-insensitive equality; `lower` must already be lower case.
inline bool iequals(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    if (c != lower[i]) return false;
  }
  return true;
}

struct Span {
  uint32_t off = 0;
  uint32_t len = 0;
};

struct RequestLine {
  Span method, target, path, query;
  Span authority;             // absolute-form / authority-form: the target's authority (len 0 otherwise)
  bool default_path = false;  // absolute-form with an empty path: the path is "/"
  uint8_t minor = 1;
};

// Parses `method SP request-target SP HTTP-version` (line without CRLF) starting at input
// offset `base`. Returns 0, or the error status: 400 (grammar), 505 (HTTP/x.y other than 1.0/1.1),
// 501 (CONNECT: a valid authority-form that this origin server does not tunnel).
int parse_request_line(const char* line, size_t len, uint32_t base, RequestLine& out);

// Parses `field-name ":" OWS field-value OWS` (line without CRLF). Returns 0 or 400.
int parse_field_line(const char* line, size_t len, uint32_t base, Span& name, Span& value);

// uri-host [ ":" port ] without userinfo (RFC 9110 7.2, RFC 3986 3.2.2). Non-empty.
bool valid_host(std::string_view s);

// Transfer-Encoding: the field lines are scanned in order into a TeState; te_status() then gives
// 0 when the codings are exactly "chunked" (case-insensitive, empty list elements ignored),
// 400 when chunked is missing, not final, repeated or has parameters, or the syntax is invalid
// (RFC 9112 6.3: the length cannot be determined), 501 when chunked is final but another
// (unknown) coding is also applied (RFC 9112 6.1).
struct TeState {
  int chunked = 0;
  bool last_chunked = false;
  bool unknown = false;
  bool bad = false;
};
void scan_transfer_encoding(std::string_view value, TeState& st);
int te_status(const TeState& st);

}  // namespace fasterapi::http::detail
