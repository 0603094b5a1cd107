// Fuzz target for json/writer: each input is checked against simple reference implementations,
// then drives Buffer operations interleaved with JSON writes against a std::string model.
// (Built by CMake with -DFASTERAPI_FUZZ=ON, see fuzz/README.md; the commands below also work.)
//
// libFuzzer:  clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -DFASTERAPI_LIBFUZZER
//               -Isrc/native fuzz/json_fuzz.cpp src/native/json/writer.cpp -o json_fuzz
// standalone: g++ -std=c++20 -g -O1 -fsanitize=address,undefined -Isrc/native
//               fuzz/json_fuzz.cpp src/native/json/writer.cpp -o json_fuzz
//             ./json_fuzz [iterations] [seed]     (random inputs; also runs files given as args)
// Add -U__SSE2__ when compiling writer.cpp to exercise the portable (SWAR) scanner.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "json/writer.hpp"

namespace fj = fasterapi::json;
using fasterapi::http::Buffer;

namespace {

[[noreturn]] void fail(const char* what, const std::string& got, const std::string& want) {
  std::fprintf(stderr, "MISMATCH in %s\n got: %s\nwant: %s\n", what, got.c_str(), want.c_str());
  std::abort();
}

std::string ref_string(const uint8_t* p, size_t n) {
  std::string r = "\"";
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = p[i];
    switch (c) {
      case '"': r += "\\\""; break;
      case '\\': r += "\\\\"; break;
      case '\n': r += "\\n"; break;
      case '\r': r += "\\r"; break;
      case '\t': r += "\\t"; break;
      case '\b': r += "\\b"; break;
      case '\f': r += "\\f"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          r += buf;
        } else {
          r += static_cast<char>(c);
        }
    }
  }
  return r + "\"";
}

// The %.*e string whose digits are those of `s` (also %.*e, with `prec` decimals) plus `delta`
// units in the last place (a neighbour of the correctly rounded string).
std::string nudge_last_digit(const char* s, int prec, int delta) {
  bool neg = s[0] == '-';
  const char* m = s + neg;
  const char* e = std::strchr(m, 'e');
  uint64_t digits = 0;
  for (const char* q = m; q < e; ++q)
    if (*q != '.') digits = digits * 10 + uint64_t(*q - '0');
  int exp = std::atoi(e + 1) - prec;  // value = digits * 10^exp
  if (delta < 0 && digits == 0) return s;
  digits = uint64_t(int64_t(digits) + delta);
  std::string d = std::to_string(digits);
  int e10 = exp + int(d.size()) - 1;             // a carry (999+1) or a borrow (100-1) moves it
  while (d.size() > 1 && d.back() == '0') d.pop_back();
  std::string out = neg ? "-" : "";
  out += d.substr(0, 1);
  if (d.size() > 1) out += "." + d.substr(1);
  return out + "e" + std::to_string(e10);
}

// Python's repr(float), built from printf: the shortest %.*e that round-trips, then repr's layout.
// Like repr (David Gay's shortest mode), a length at which the correctly rounded string does not
// round-trip may still have a neighbouring string (last digit +-1) that does: that one wins.
std::string ref_double(double v) {
  if (v == 0) return std::signbit(v) ? "-0.0" : "0.0";
  char buf[64];
  std::string found;
  for (int prec = 0; prec <= 17 && found.empty(); ++prec) {
    std::snprintf(buf, sizeof buf, "%.*e", prec, v);
    if (std::strtod(buf, nullptr) == v) {
      found = buf;
      break;
    }
    for (int delta : {-1, 1}) {
      std::string c = nudge_last_digit(buf, prec, delta);
      if (std::strtod(c.c_str(), nullptr) == v) {
        found = c;
        break;
      }
    }
  }
  std::string s = found;
  std::string sign;
  if (s[0] == '-') { sign = "-"; s.erase(0, 1); }
  size_t e = s.find('e');
  int exp = std::atoi(s.c_str() + e + 1);
  std::string digits;
  for (size_t i = 0; i < e; ++i)
    if (s[i] != '.') digits += s[i];
  if (exp < -4 || exp >= 16) {
    std::string m = digits.substr(0, 1);
    if (digits.size() > 1) m += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
    return sign + m + eb;
  }
  if (exp >= 0) {
    size_t id = static_cast<size_t>(exp) + 1;
    if (digits.size() <= id) return sign + digits + std::string(id - digits.size(), '0') + ".0";
    return sign + digits.substr(0, id) + "." + digits.substr(id);
  }
  return sign + "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
}

void check_one(const uint8_t* data, size_t size) {
  Buffer out;
  // Prefix bytes in the buffer so writes start at odd offsets and exercise growth.
  if (size % 4) out.append("xyz", size % 4);
  size_t mark = out.size();
  fj::write_string(out, {reinterpret_cast<const char*>(data), size});
  std::string got(out.data() + mark, out.size() - mark);
  std::string want = ref_string(data, size);
  if (got != want) fail("write_string", got, want);

  for (size_t off = 0; off + 8 <= size && off < 64; off += 8) {
    uint64_t u;
    std::memcpy(&u, data + off, 8);
    out.clear();
    fj::write_uint(out, u);
    if (std::string(out.view()) != std::to_string(u)) fail("write_uint", std::string(out.view()), std::to_string(u));
    int64_t i = static_cast<int64_t>(u);
    out.clear();
    fj::write_int(out, i);
    if (std::string(out.view()) != std::to_string(i)) fail("write_int", std::string(out.view()), std::to_string(i));
    double d;
    std::memcpy(&d, data + off, 8);
    out.clear();
    bool ok = fj::write_double(out, d);
    if (ok != std::isfinite(d)) fail("write_double finiteness", std::string(out.view()), "");
    if (ok) {
      std::string w = ref_double(d);
      if (std::string(out.view()) != w) fail("write_double", std::string(out.view()), w);
    } else if (out.size() != 0) {
      fail("write_double wrote for non-finite", std::string(out.view()), "");
    }
  }
}

// The writers append to a Buffer whose read cursor moves (a connection's output is consumed as
// it is sent), so the input also drives a sequence of Buffer operations interleaved with JSON
// writes, checked against a std::string model: growth, compaction (start_ > 0), truncate,
// shrink and prepare/commit all keep the bytes exactly.
void check_buffer_ops(const uint8_t* data, size_t size) {
  Buffer b;
  std::string model;
  size_t i = 0;
  auto take = [&](size_t want) {
    size_t k = std::min(want, size - i);
    const uint8_t* p = data + i;
    i += k;
    return std::string(reinterpret_cast<const char*>(p), k);
  };
  while (i < size) {
    uint8_t op = data[i++];
    size_t arg = i < size ? data[i++] : 0;
    switch (op % 9) {
      case 0: {  // raw append (sizes up to ~8 KiB to cross the 4 KiB growth step)
        std::string s = take(arg);
        if (op & 0x80) s.append(arg * 32, 'x');
        b.append(s);
        model += s;
        break;
      }
      case 1:
        b.push_back(static_cast<char>(arg));
        model.push_back(static_cast<char>(arg));
        break;
      case 2: {  // consume (as a socket send would)
        size_t k = std::min(model.size(), arg * (op & 0x80 ? 64 : 1));
        b.consume(k);
        model.erase(0, k);
        break;
      }
      case 3: {  // write a JSON string from the next bytes
        std::string s = take(arg);
        fj::write_string(b, s);
        model += ref_string(reinterpret_cast<const uint8_t*>(s.data()), s.size());
        break;
      }
      case 4: {
        int64_t v = static_cast<int64_t>(arg * 0x0101010101010101ull) * ((op & 0x80) ? -1 : 1);
        fj::write_int(b, v);
        model += std::to_string(v);
        break;
      }
      case 5: {
        double d = (double(arg) - 128.0) / 7.0 * ((op & 0x80) ? 1e300 : 1.0);
        if (fj::write_double(b, d)) model += ref_double(d);
        break;
      }
      case 6: {  // prepare(n) + commit(k <= n)
        size_t nprep = arg * 16 + 1;
        char* w = b.prepare(nprep);
        size_t k = std::min(nprep, size_t(op));
        for (size_t j = 0; j < k; ++j) w[j] = static_cast<char>('a' + j % 26);
        b.commit(k);
        for (size_t j = 0; j < k; ++j) model.push_back(static_cast<char>('a' + j % 26));
        break;
      }
      case 7: {  // roll back the tail
        size_t keep = model.size() - std::min(model.size(), arg);
        b.truncate(keep);
        model.resize(keep);
        break;
      }
      default:  // shrink (only acts when empty), or clear
        if (op & 0x80) {
          b.clear();
          model.clear();
        } else {
          b.shrink(arg * 64);
        }
        break;
    }
    if (b.size() != model.size() || std::string(b.view()) != model) fail("Buffer ops", std::string(b.view()), model);
    if (b.empty() != model.empty()) fail("Buffer empty()", "", "");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  check_one(data, size);
  check_buffer_ops(data, size);
  return 0;
}

#ifndef FASTERAPI_LIBFUZZER
int main(int argc, char** argv) {
  long iters = argc > 1 ? std::atol(argv[1]) : 200000;
  unsigned seed = argc > 2 ? static_cast<unsigned>(std::atol(argv[2])) : 1;
  std::mt19937_64 rng(seed);
  std::string buf;
  const char special[] = "\"\\\n\r\t\b\f\x01\x1f\x7f \xc3\xa9\xe2\x80\xa8";
  for (long it = 0; it < iters; ++it) {
    size_t n = rng() % (it % 100 == 0 ? 5000 : 80);
    buf.resize(n);
    unsigned mode = rng() % 4;
    for (auto& c : buf) {
      uint64_t r = rng();
      if (mode == 0) c = static_cast<char>(r);                                    // any byte
      else if (mode == 1) c = (r % 8 == 0) ? special[r % (sizeof special - 1)] : 'a' + r % 26;
      else if (mode == 2) c = static_cast<char>(0x20 + r % 0x60);                 // printable
      else c = special[r % (sizeof special - 1)];
    }
    check_one(reinterpret_cast<const uint8_t*>(buf.data()), buf.size());
  }
  std::printf("json_fuzz: %ld random inputs ok\n", iters);
  return 0;
}
#endif
