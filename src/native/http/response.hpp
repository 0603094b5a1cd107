// Writing response heads into a connection's output buffer.
#pragma once
#include <cstdint>
#include <string_view>

#include "buffer.hpp"

namespace fasterapi::http {

// Reason phrase for a status code ("" for unknown codes; the status line then ends "NNN ").
std::string_view reason_phrase(int status);

// "Date: <IMF-fixdate>\r\nServer: fasterapi\r\n", recomputed at most once per second.
// Either line may be switched off (set_default_headers): then it is missing, or the view is empty.
std::string_view date_and_server_headers();
// Whether date_and_server_headers() carries each line (default both; process-wide, set before serving).
void set_default_headers(bool date, bool server);

// Writes "HTTP/1.1 <status> <reason>\r\n" + Date/Server + Content-Length + the given extra
// header lines (each already "Name: value\r\n", validated by the caller) + "Connection: close" when
// close is set + "\r\n", then the body unless head_only (HEAD keeps Content-Length).
void write_response(Buffer& out, int status, std::string_view content_type, std::string_view extra_headers,
                    std::string_view body, bool close, bool head_only);

// A JSON error response {"detail": "<reason>"} used for protocol errors (400, 413, 414, 431, ...).
void write_error(Buffer& out, int status, bool close);

// True if the byte string may appear in a header name (RFC 9110 token) / value (no CR, LF, NUL).
bool valid_header_name(std::string_view s);
bool valid_header_value(std::string_view s);

}  // namespace fasterapi::http
