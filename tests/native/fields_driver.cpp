// Test driver for src/native/http/fields.{hpp,cpp}: tests/native/test_fields.py.
// One request per stdin line, arguments hex-encoded (any bytes), one answer line each:
//   Q <query> <key>        query_lookup      -> "F <value>" | "N"
//   C <cookie header> <name> cookie_lookup   -> "F <value>" | "N"
//   D <text> / P <text>    percent_decode (P: '+' is a space) -> "F <decoded>"
//   M <content type>       media_kind        -> "absent" | "json" | "other"
//   H <name>               first_header of a fixed request (Accept: a, accept: b, X-Empty: ) -> "F <value>" | "N"
#include <cstdio>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>

#include "http/fields.hpp"

namespace fh = fasterapi::http;

namespace {

std::string unhex(const std::string& h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(char(std::stoi(h.substr(i, 2), nullptr, 16)));
  return out;
}

std::string hex(std::string_view s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 15]);
  }
  return out;
}

std::string found(std::optional<std::string_view> v) { return v ? "F " + hex(*v) : "N"; }

}  // namespace

int main() {
  fh::Request req;
  req.headers[0] = {"Accept", "a"};
  req.headers[1] = {"accept", "b"};
  req.headers[2] = {"X-Empty", ""};
  req.num_headers = 3;
  std::string line, value;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string op, a, b;
    in >> op >> a >> b;
    std::string x = unhex(a), y = unhex(b);
    if (op == "Q") {
      std::cout << (fh::query_lookup(x, y, value) ? "F " + hex(value) : "N") << "\n";
    } else if (op == "C") {
      std::cout << found(fh::cookie_lookup(x, y)) << "\n";
    } else if (op == "D" || op == "P") {
      fh::percent_decode(x, value, op == "P");
      if (fh::needs_decode(x, op == "P") != (value != x) && value != x) return 2;  // decoding changed an unflagged text
      std::cout << "F " << hex(value) << "\n";
    } else if (op == "M") {
      fh::MediaKind k = fh::media_kind(x);
      std::cout << (k == fh::MediaKind::Absent ? "absent" : k == fh::MediaKind::Json ? "json" : "other") << "\n";
    } else if (op == "H") {
      std::cout << found(fh::first_header(req, x)) << "\n";
    } else {
      std::cerr << "unknown op " << op << "\n";
      return 1;
    }
  }
  return 0;
}
