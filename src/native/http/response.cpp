// Response heads: status line, cached Date/Server, Content-Type/Content-Length, error bodies.
// write_response() is on the hot path: it sizes the whole response first and writes it with
// memcpy into one prepared region of the output buffer (no temporaries, no formatting library).
#include "response.hpp"

#include <atomic>
#include <cstring>
#include <ctime>

#include "parser.hpp"

namespace fasterapi::http {

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 102: return "Processing";
    case 103: return "Early Hints";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 207: return "Multi-Status";
    case 208: return "Already Reported";
    case 226: return "IM Used";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 305: return "Use Proxy";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 418: return "I'm a Teapot";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 423: return "Locked";
    case 424: return "Failed Dependency";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 506: return "Variant Also Negotiates";
    case 507: return "Insufficient Storage";
    case 508: return "Loop Detected";
    case 510: return "Not Extended";
    case 511: return "Network Authentication Required";
    default: return {};
  }
}

namespace {

struct DateCache {
  time_t second = -1;
  unsigned generation = 0;
  size_t len = 0;
  char buf[80];
};
thread_local DateCache t_date;
// --no-date-header / --no-server-header (uvicorn's switches): set once before serving; a change
// bumps the generation so every thread's cached lines are rebuilt.
std::atomic<unsigned> g_header_generation{1};
std::atomic<bool> g_send_date{true}, g_send_server{true};

inline char* put(char* p, std::string_view s) {
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}
// For pieces that may be empty: a default string_view has a null data() (memcpy's UB).
inline char* put_opt(char* p, std::string_view s) {
  if (!s.empty()) std::memcpy(p, s.data(), s.size());
  return p + s.size();
}
inline char* put2(char* p, int v) {
  p[0] = char('0' + v / 10);
  p[1] = char('0' + v % 10);
  return p + 2;
}

// Decimal digits of v, written backwards ending at `end`; returns the first digit.
inline char* u64_to_dec(uint64_t v, char* end) {
  char* p = end;
  do {
    *--p = char('0' + v % 10);
    v /= 10;
  } while (v);
  return p;
}

}  // namespace

std::string_view date_and_server_headers() {
  time_t now = ::time(nullptr);
  DateCache& c = t_date;
  const unsigned generation = g_header_generation.load(std::memory_order_relaxed);
  if (now != c.second || generation != c.generation) {
    c.generation = generation;
    if (!g_send_date.load(std::memory_order_relaxed)) {
      c.len = 0;
      if (g_send_server.load(std::memory_order_relaxed)) c.len = size_t(put(c.buf, "Server: fasterapi\r\n") - c.buf);
      c.second = now;
      return {c.buf, c.len};
    }
    static const char kDays[] = "SunMonTueWedThuFriSat";
    static const char kMonths[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    struct tm tm;
    gmtime_r(&now, &tm);
    char* p = put(c.buf, "Date: ");
    p = put(p, std::string_view(kDays + 3 * tm.tm_wday, 3));  // IMF-fixdate (RFC 9110 5.6.7)
    p = put(p, ", ");
    p = put2(p, tm.tm_mday);
    *p++ = ' ';
    p = put(p, std::string_view(kMonths + 3 * tm.tm_mon, 3));
    *p++ = ' ';
    int year = tm.tm_year + 1900;
    p = put2(p, (year / 100) % 100);
    p = put2(p, year % 100);
    *p++ = ' ';
    p = put2(p, tm.tm_hour);
    *p++ = ':';
    p = put2(p, tm.tm_min);
    *p++ = ':';
    p = put2(p, tm.tm_sec);
    p = put(p, " GMT\r\n");
    if (g_send_server.load(std::memory_order_relaxed)) p = put(p, "Server: fasterapi\r\n");
    c.len = size_t(p - c.buf);
    c.second = now;
  }
  return {c.buf, c.len};
}

void set_default_headers(bool date, bool server) {
  g_send_date.store(date, std::memory_order_relaxed);
  g_send_server.store(server, std::memory_order_relaxed);
  g_header_generation.fetch_add(1, std::memory_order_relaxed);
}

void write_response(Buffer& out, int status, std::string_view content_type, std::string_view extra_headers,
                    std::string_view body, bool close, bool head_only) {
  if (status < 100 || status > 999) status = 500;
  out.last_status = status;
  const std::string_view reason = reason_phrase(status);
  const std::string_view date = date_and_server_headers();
  // 1xx, 204 and 304 carry no content; 1xx and 204 must not have a Content-Length
  // (RFC 9110 8.6) and a 304's would describe the selected representation, which we do not know.
  const bool no_content = status < 200 || status == 204 || status == 304;
  char digits[20];
  char* const digits_end = digits + sizeof digits;
  const char* cl = digits_end;
  if (!no_content) cl = u64_to_dec(body.size(), digits_end);
  const size_t cl_len = size_t(digits_end - cl);
  const bool with_body = !no_content && !head_only;

  size_t total = 13 + reason.size() + 2 + date.size() + extra_headers.size() + 2;
  if (!content_type.empty()) total += 14 + content_type.size() + 2;
  if (!no_content) total += 16 + cl_len + 2;
  if (close) total += 19;
  if (with_body) total += body.size();

  char* const start = out.prepare(total);
  char* p = put(start, "HTTP/1.1 ");
  *p++ = char('0' + status / 100);
  *p++ = char('0' + status / 10 % 10);
  *p++ = char('0' + status % 10);
  *p++ = ' ';
  p = put_opt(p, reason);
  p = put(p, "\r\n");
  p = put(p, date);
  if (!content_type.empty()) {
    p = put(p, "Content-Type: ");
    p = put(p, content_type);
    p = put(p, "\r\n");
  }
  if (!no_content) {
    p = put(p, "Content-Length: ");
    p = put(p, std::string_view(cl, cl_len));
    p = put(p, "\r\n");
  }
  p = put_opt(p, extra_headers);
  if (close) p = put(p, "Connection: close\r\n");
  p = put(p, "\r\n");
  if (with_body) p = put_opt(p, body);
  out.commit(size_t(p - start));
}

void write_error(Buffer& out, int status, bool close) {
  std::string_view reason = reason_phrase(status);
  if (reason.empty()) reason = "Error";
  char body[96];
  char* p = put(body, "{\"detail\":\"");
  p = put(p, reason);  // reason phrases need no JSON escaping
  p = put(p, "\"}");
  write_response(out, status, "application/json", {}, std::string_view(body, size_t(p - body)), close, false);
}

bool valid_header_name(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!detail::is(detail::kTchar, c)) return false;
  return true;
}

bool valid_header_value(std::string_view s) {
  for (char c : s)
    if (c == '\r' || c == '\n' || c == '\0') return false;
  return true;
}

}  // namespace fasterapi::http
