// Line-level HTTP/1.1 grammar (RFC 9112 3, 5; RFC 9110 5.6, 7.2) used by Connection.
#include "parser.hpp"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "message.hpp"

namespace fasterapi::http {

std::string_view Request::header(std::string_view lower_name) const {
  for (uint32_t i = 0; i < num_headers; ++i)
    if (detail::iequals(headers[i].name, lower_name)) return headers[i].value;
  return {};
}

namespace detail {
namespace {

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
inline uint32_t u32(size_t v) { return static_cast<uint32_t>(v); }

// Request-target bytes: VCHAR except '#'; '%' must start a pct-encoded triplet.
bool valid_target_bytes(const char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    char c = p[i];
    if (!is(kTarget, c)) return false;
    if (c == '%') {
      if (i + 2 >= n || !is(kHex, p[i + 1]) || !is(kHex, p[i + 2])) return false;
      i += 2;
    }
  }
  return true;
}

// Splits [start, start+n) of the line (an origin-form path with optional query) into path/query.
void split_path_query(const char* line, size_t start, size_t n, uint32_t base, RequestLine& out) {
  const void* q = std::memchr(line + start, '?', n);
  if (q) {
    size_t qpos = static_cast<size_t>(static_cast<const char*>(q) - line);
    out.path = {u32(base + start), u32(qpos - start)};
    out.query = {u32(base + qpos + 1), u32(start + n - qpos - 1)};
  } else {
    out.path = {u32(base + start), u32(n)};
    out.query = {u32(base + start + n), 0};
  }
}

// Field value bytes (RFC 9110 5.5): anything but CTLs other than HTAB, and DEL. Checked 16 bytes
// at a time where SSE2 is available (every x86-64).
bool valid_value_bytes(const char* p, size_t n) {
  size_t i = 0;
#if defined(__SSE2__)
  const __m128i k1f = _mm_set1_epi8(0x1f), k7f = _mm_set1_epi8(0x7f), ktab = _mm_set1_epi8('\t');
  for (; i + 16 <= n; i += 16) {
    __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(x, k1f), x);  // x <= 0x1f (unsigned)
    __m128i bad = _mm_or_si128(ctl, _mm_cmpeq_epi8(x, k7f));
    bad = _mm_andnot_si128(_mm_cmpeq_epi8(x, ktab), bad);
    if (_mm_movemask_epi8(bad)) return false;
  }
#endif
  for (; i < n; ++i)
    if (!is(kFieldVal, p[i])) return false;
  return true;
}

}  // namespace

bool valid_host(std::string_view s) {
  size_t n = s.size(), i = 0;
  if (n == 0) return false;
  if (s[0] == '[') {  // IP-literal: IPv6address / IPvFuture, checked for its alphabet only
    size_t j = 1;
    while (j < n && (is(kHex, s[j]) || s[j] == ':' || s[j] == '.' || s[j] == 'v' || s[j] == 'V')) ++j;
    if (j == 1 || j >= n || s[j] != ']') return false;
    i = j + 1;
  } else {
    while (i < n && is(kRegName, s[i])) {
      if (s[i] == '%') {
        if (i + 2 >= n || !is(kHex, s[i + 1]) || !is(kHex, s[i + 2])) return false;
        i += 2;
      }
      ++i;
    }
    if (i == 0) return false;
  }
  if (i == n) return true;
  if (s[i] != ':') return false;
  ++i;
  if (n - i > 5) return false;
  uint32_t port = 0;
  for (; i < n; ++i) {
    if (!is_digit(s[i])) return false;
    port = port * 10 + static_cast<uint32_t>(s[i] - '0');
  }
  return port <= 65535;
}

int parse_request_line(const char* line, size_t len, uint32_t base, RequestLine& out) {
  // method = token, then exactly one SP
  size_t i = 0;
  while (i < len && is(kTchar, line[i])) ++i;
  if (i == 0 || i >= len || line[i] != ' ') return 400;
  out.method = {base, u32(i)};
  std::string_view method(line, i);

  // request-target: up to the next SP (must be non-empty: "GET  /" has an empty target)
  size_t ts = i + 1;
  const void* sp = std::memchr(line + ts, ' ', len - ts);
  if (!sp) return 400;
  size_t te = static_cast<size_t>(static_cast<const char*>(sp) - line);
  if (te == ts) return 400;

  // HTTP-version = "HTTP/" DIGIT "." DIGIT, then the end of the line
  size_t vs = te + 1;
  const char* v = line + vs;
  if (len - vs != 8 || std::memcmp(v, "HTTP/", 5) != 0 || !is_digit(v[5]) || v[6] != '.' || !is_digit(v[7])) return 400;
  if (v[5] != '1' || (v[7] != '0' && v[7] != '1')) return 505;
  out.minor = static_cast<uint8_t>(v[7] - '0');

  const char* t = line + ts;
  size_t tn = te - ts;
  if (!valid_target_bytes(t, tn)) return 400;
  out.target = {u32(base + ts), u32(tn)};
  out.authority = {0, 0};
  out.default_path = false;

  bool is_connect = method == "CONNECT";
  if (t[0] == '/') {  // origin-form
    if (is_connect) return 400;
    split_path_query(line, ts, tn, base, out);
    return 0;
  }
  if (is_connect) {  // authority-form = uri-host ":" port (no tunnelling here: 501)
    std::string_view auth(t, tn);
    size_t colon = auth.rfind(':');
    if (colon == std::string_view::npos || colon + 1 == tn || auth.back() == ']' || !valid_host(auth)) return 400;
    return 501;
  }
  if (tn == 1 && t[0] == '*') {  // asterisk-form: OPTIONS only
    if (method != "OPTIONS") return 400;
    out.path = out.target;
    out.query = {u32(base + te), 0};
    return 0;
  }
  // absolute-form: http(s)://authority[path-abempty][?query]
  size_t k = 0;
  if (!is_alpha(t[0])) return 400;
  while (k < tn && (is_alpha(t[k]) || is_digit(t[k]) || t[k] == '+' || t[k] == '-' || t[k] == '.')) ++k;
  if (k + 3 > tn || t[k] != ':' || t[k + 1] != '/' || t[k + 2] != '/') return 400;
  std::string_view scheme(t, k);
  if (!iequals(scheme, "http") && !iequals(scheme, "https")) return 400;
  size_t as = k + 3, ae = as;
  while (ae < tn && t[ae] != '/' && t[ae] != '?') ++ae;
  if (!valid_host(std::string_view(t + as, ae - as))) return 400;  // also rejects userinfo ('@')
  out.authority = {u32(base + ts + as), u32(ae - as)};
  if (ae < tn && t[ae] == '/') {
    split_path_query(line, ts + ae, tn - ae, base, out);
  } else {
    out.default_path = true;
    split_path_query(line, ts + ae, tn - ae, base, out);  // "" or "?query"
    out.path = {u32(base + ts + ae), 0};
  }
  return 0;
}

int parse_field_line(const char* line, size_t len, uint32_t base, Span& name, Span& value) {
  size_t i = 0;
  while (i < len && is(kTchar, line[i])) ++i;
  // empty name, a name followed by whitespace or another non-token byte, no colon: 400
  if (i == 0 || i >= len || line[i] != ':') return 400;
  name = {base, u32(i)};
  size_t vs = i + 1;
  while (vs < len && is_ows(line[vs])) ++vs;
  size_t ve = len;
  while (ve > vs && is_ows(line[ve - 1])) --ve;
  if (!valid_value_bytes(line + vs, ve - vs)) return 400;  // CTLs (other than HTAB), NUL, DEL
  value = {u32(base + vs), u32(ve - vs)};
  return 0;
}

void scan_transfer_encoding(std::string_view v, TeState& st) {
  size_t i = 0, n = v.size();
  auto skip_ows = [&](size_t& j) {
    while (j < n && is_ows(v[j])) ++j;
  };
  auto token = [&](size_t& j) {
    size_t s = j;
    while (j < n && is(kTchar, v[j])) ++j;
    return j > s;
  };
  while (i < n) {
    while (i < n && (is_ows(v[i]) || v[i] == ',')) ++i;  // empty list elements are ignored
    if (i >= n) break;
    size_t s = i;
    if (!token(i)) {
      st.bad = true;
      return;
    }
    std::string_view coding = v.substr(s, i - s);
    size_t j = i;
    skip_ows(j);
    bool params = false;
    while (j < n && v[j] == ';') {  // transfer-parameter = token BWS "=" BWS ( token / quoted-string )
      params = true;
      ++j;
      skip_ows(j);
      if (!token(j)) {
        st.bad = true;
        return;
      }
      skip_ows(j);
      if (j >= n || v[j] != '=') {
        st.bad = true;
        return;
      }
      ++j;
      skip_ows(j);
      if (j < n && v[j] == '"') {
        ++j;
        bool closed = false;
        while (j < n) {
          char c = v[j];
          if (c == '"') {
            closed = true;
            ++j;
            break;
          }
          if (c == '\\') {
            if (j + 1 >= n || !is(kFieldVal, v[j + 1])) {
              st.bad = true;
              return;
            }
            j += 2;
            continue;
          }
          if (!is(kQdtext, c)) {
            st.bad = true;
            return;
          }
          ++j;
        }
        if (!closed) {
          st.bad = true;
          return;
        }
      } else if (!token(j)) {
        st.bad = true;
        return;
      }
      skip_ows(j);
    }
    if (j < n && v[j] != ',') {
      st.bad = true;
      return;
    }
    i = j;
    bool chunked = iequals(coding, "chunked");
    if (chunked) {
      ++st.chunked;
      if (params) st.bad = true;
    } else {
      st.unknown = true;
    }
    st.last_chunked = chunked;
  }
}

int te_status(const TeState& st) {
  if (st.bad || st.chunked != 1 || !st.last_chunked) return 400;
  if (st.unknown) return 501;
  return 0;
}

}  // namespace detail
}  // namespace fasterapi::http
