// ASCII helpers shared by the HTTP core and the bridge (header names, tokens, %-escapes).
#pragma once
#include <string_view>

namespace fasterapi::http {

// ASCII case-insensitive equality of two strings (either side in any case).
inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = char(x + 32);
    if (y >= 'A' && y <= 'Z') y = char(y + 32);
    if (x != y) return false;
  }
  return true;
}

// Does the comma-separated list `v` hold `token` (case-insensitive, OWS trimmed)? (Connection,
// Upgrade: both HTTP/1.1's WebSocket handshake and h2c's upgrade ask it.)
inline bool has_token(std::string_view v, std::string_view token) {
  size_t i = 0;
  while (i <= v.size()) {
    size_t e = v.find(',', i);
    if (e == std::string_view::npos) e = v.size();
    std::string_view t = v.substr(i, e - i);
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
    if (iequals(t, token)) return true;
    i = e + 1;
  }
  return false;
}

// The value of a hex digit, or -1.
inline int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace fasterapi::http
