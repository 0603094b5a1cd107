#include "http/fields.hpp"

#include "http/ascii.hpp"

namespace fasterapi::http {

std::string_view strip_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

void percent_decode(std::string_view in, std::string& out, bool plus_is_space) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%' && i + 2 < in.size()) {
      int h = hex_digit(in[i + 1]), l = hex_digit(in[i + 2]);
      if (h >= 0 && l >= 0) {
        out.push_back(char(h * 16 + l));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
}

bool needs_decode(std::string_view s, bool plus_is_space) {
  for (char c : s)
    if (c == '%' || (plus_is_space && c == '+')) return true;
  return false;
}

bool query_lookup(std::string_view query, std::string_view key, std::string& value) {
  bool found = false;
  std::string k;
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t amp = query.find('&', pos);
    std::string_view pair = query.substr(pos, amp == std::string_view::npos ? std::string_view::npos : amp - pos);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      std::string_view rk = pair.substr(0, eq);
      std::string_view rv = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
      bool match;
      if (needs_decode(rk, true)) {
        percent_decode(rk, k, true);
        match = k == key;
      } else {
        match = rk == key;
      }
      if (match) {
        if (needs_decode(rv, true))
          percent_decode(rv, value, true);
        else
          value.assign(rv);
        found = true;
      }
    }
    if (amp == std::string_view::npos) break;
    pos = amp + 1;
  }
  return found;
}

std::optional<std::string_view> cookie_lookup(std::string_view header, std::string_view name) {
  std::optional<std::string_view> value;
  size_t pos = 0;
  while (pos <= header.size() && !header.empty()) {
    size_t semi = header.find(';', pos);
    std::string_view chunk = header.substr(pos, semi == std::string_view::npos ? std::string_view::npos : semi - pos);
    size_t eq = chunk.find('=');
    if (eq != std::string_view::npos && strip_ows(chunk.substr(0, eq)) == name) value = strip_ows(chunk.substr(eq + 1));
    if (semi == std::string_view::npos) break;
    pos = semi + 1;
  }
  return value;
}

std::optional<std::string_view> first_header(const Request& req, std::string_view name) {
  for (uint32_t k = 0; k < req.num_headers; ++k)
    if (iequals(req.headers[k].name, name)) return req.headers[k].value;
  return std::nullopt;
}

MediaKind media_kind(std::string_view content_type) {
  std::string_view media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.remove_suffix(1);
  if (media.empty()) return MediaKind::Absent;
  if (iequals(media, "application/json") || (media.size() > 5 && iequals(media.substr(media.size() - 5), "+json")))
    return MediaKind::Json;
  return MediaKind::Other;
}

}  // namespace fasterapi::http
