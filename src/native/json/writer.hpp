// JSON text primitives, with no Python: strings, integers and doubles written into a Buffer.
#pragma once
#include <cstdint>
#include <string_view>

#include "http/buffer.hpp"

namespace fasterapi::json {

// A JSON string with quotes, escaping as json.dumps(ensure_ascii=False) does:
// \" \\ \n \r \t \b \f, other control characters as \u00XX; all other UTF-8 bytes verbatim.
void write_string(http::Buffer& out, std::string_view utf8);
void write_int(http::Buffer& out, int64_t v);
void write_uint(http::Buffer& out, uint64_t v);
// As Python's float.__repr__ (shortest round-trip; "1.0", "1e+16", "1e-05").
// Returns false (writes nothing) for nan and infinities.
bool write_double(http::Buffer& out, double v);

}  // namespace fasterapi::json
