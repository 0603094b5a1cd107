// JSON text primitives: strings, integers and doubles, written straight into a Buffer.
#include "json/writer.hpp"

#include <charconv>
#include <cmath>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace fasterapi::json {

namespace {

// For each byte: 0 if it is copied verbatim, otherwise the character after the backslash
// ('u' means \u00XX). Matches json.dumps(ensure_ascii=False): only '"', '\\' and bytes < 0x20
// are escaped; DEL and all non-ASCII UTF-8 bytes (U+2028/U+2029 included) are left alone.
constexpr auto make_escape_table() {
  struct Table {
    unsigned char v[256];
  } t{};
  for (int c = 0; c < 0x20; ++c) t.v[c] = 'u';
  t.v[int('\b')] = 'b';  // (int: clang's -Wchar-subscripts, an error under -Werror)
  t.v[int('\t')] = 't';
  t.v[int('\n')] = 'n';
  t.v[int('\f')] = 'f';
  t.v[int('\r')] = 'r';
  t.v[int('"')] = '"';
  t.v[int('\\')] = '\\';
  return t;
}
constexpr auto kEscape = make_escape_table();

constexpr char kHex[] = "0123456789abcdef";

// First byte in [p, end) that needs escaping, or end.
inline const unsigned char* find_escape(const unsigned char* p, const unsigned char* end) {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i bslash = _mm_set1_epi8('\\');
  const __m128i ctl_max = _mm_set1_epi8(0x1f);
  while (end - p >= 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    // v <= 0x1f (unsigned)  <=>  min(v, 0x1f) == v
    __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(v, ctl_max), v);
    __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)), ctl);
    int mask = _mm_movemask_epi8(hit);
    if (mask) return p + __builtin_ctz(static_cast<unsigned>(mask));
    p += 16;
  }
#else
  // SWAR, 8 bytes at a time: any byte < 0x20, == '"' or == '\\'.
  constexpr uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  while (end - p >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    uint64_t q = v ^ (ones * '"'), b = v ^ (ones * '\\');
    uint64_t hit = ((v - ones * 0x20) & ~v) | ((q - ones) & ~q) | ((b - ones) & ~b);
    if (hit & highs) break;  // the byte loop below finds which one
    p += 8;
  }
#endif
  while (p < end && !kEscape.v[*p]) ++p;
  return p;
}

// Writes the decimal digits of v, which has exactly `len` digits, ending at w + len.
inline void put_digits(char* w, uint64_t v, unsigned len) {
  static constexpr char kPairs[] =
      "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
      "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
      "8081828384858687888990919293949596979899";
  char* e = w + len;
  while (v >= 100) {
    unsigned r = static_cast<unsigned>(v % 100);
    v /= 100;
    e -= 2;
    std::memcpy(e, kPairs + 2 * r, 2);
  }
  if (v >= 10) {
    e -= 2;
    std::memcpy(e, kPairs + 2 * v, 2);
  } else {
    *--e = static_cast<char>('0' + v);
  }
}

inline unsigned count_digits(uint64_t v) {
  unsigned n = 1;
  for (;;) {
    if (v < 10) return n;
    if (v < 100) return n + 1;
    if (v < 1000) return n + 2;
    if (v < 10000) return n + 3;
    v /= 10000;
    n += 4;
  }
}

}  // namespace

void write_string(http::Buffer& out, std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  // Room for the text without escapes plus both quotes; grown when an escape needs more.
  // Invariant at the top of the loop: lim - w >= (end - p) + 1 (the rest and the closing quote).
  size_t cap = s.size() + 2;
  char* base = out.prepare(cap);
  char* w = base;
  char* lim = base + cap;
  *w++ = '"';
  for (;;) {
    const unsigned char* q = find_escape(p, end);
    size_t run = static_cast<size_t>(q - p);
    if (run) {
      std::memcpy(w, p, run);
      w += run;
      p = q;
    }
    if (p == end) break;
    size_t rest = static_cast<size_t>(end - p);
    if (static_cast<size_t>(lim - w) < rest + 6) {  // 6 for this escape, rest-1 + 1 for the others
      out.commit(static_cast<size_t>(w - base));
      size_t more = rest + 6 + rest / 4 + 16;  // headroom for a few more escapes
      base = w = out.prepare(more);
      lim = base + more;
    }
    unsigned char c = *p++;
    unsigned char e = kEscape.v[c];
    w[0] = '\\';
    if (e != 'u') {
      w[1] = static_cast<char>(e);
      w += 2;
    } else {
      std::memcpy(w + 1, "u00", 3);
      w[4] = kHex[c >> 4];
      w[5] = kHex[c & 15];
      w += 6;
    }
  }
  *w++ = '"';
  out.commit(static_cast<size_t>(w - base));
}

void write_uint(http::Buffer& out, uint64_t v) {
  unsigned n = count_digits(v);
  char* w = out.prepare(20);
  put_digits(w, v, n);
  out.commit(n);
}

void write_int(http::Buffer& out, int64_t v) {
  if (v >= 0) return write_uint(out, static_cast<uint64_t>(v));
  uint64_t u = uint64_t{0} - static_cast<uint64_t>(v);  // well-defined for INT64_MIN too
  unsigned n = count_digits(u);
  char* w = out.prepare(21);
  w[0] = '-';
  put_digits(w + 1, u, n);
  out.commit(n + 1);
}

bool write_double(http::Buffer& out, double v) {
  if (!std::isfinite(v)) return false;
  char* w = out.prepare(32);
  if (v == 0) {
    if (std::signbit(v)) {
      std::memcpy(w, "-0.0", 4);
      out.commit(4);
    } else {
      std::memcpy(w, "0.0", 3);
      out.commit(3);
    }
    return true;
  }
  // Shortest round-trip digits, in the form [-]d[.ddd]e(+|-)XX[X].
  char sci[32];
  char* sci_end = std::to_chars(sci, sci + sizeof sci, v, std::chars_format::scientific).ptr;
  const char* s = sci;
  char* o = w;
  if (*s == '-') {
    *o++ = '-';
    ++s;
  }
  const char* epos = static_cast<const char*>(std::memchr(s, 'e', static_cast<size_t>(sci_end - s)));
  int exp = 0;
  std::from_chars(epos + (epos[1] == '+' ? 2 : 1), sci_end, exp);
  if (exp < -4 || exp >= 16) {
    // repr's exponent form is the same as to_chars' scientific form ("1e+16", "1.5e-05").
    size_t len = static_cast<size_t>(sci_end - s);
    std::memcpy(o, s, len);
    out.commit(static_cast<size_t>(o - w) + len);
    return true;
  }
  // Fixed notation: collect the significant digits.
  char digits[20];
  int nd = 0;
  digits[nd++] = s[0];
  if (s[1] == '.')
    for (const char* d = s + 2; d < epos; ++d) digits[nd++] = *d;
  if (exp >= 0) {
    int int_digits = exp + 1;
    if (nd <= int_digits) {
      std::memcpy(o, digits, static_cast<size_t>(nd));
      o += nd;
      for (int i = nd; i < int_digits; ++i) *o++ = '0';
      *o++ = '.';
      *o++ = '0';
    } else {
      std::memcpy(o, digits, static_cast<size_t>(int_digits));
      o += int_digits;
      *o++ = '.';
      std::memcpy(o, digits + int_digits, static_cast<size_t>(nd - int_digits));
      o += nd - int_digits;
    }
  } else {
    *o++ = '0';
    *o++ = '.';
    for (int i = 0; i < -exp - 1; ++i) *o++ = '0';
    std::memcpy(o, digits, static_cast<size_t>(nd));
    o += nd;
  }
  out.commit(static_cast<size_t>(o - w));
  return true;
}

}  // namespace fasterapi::json
