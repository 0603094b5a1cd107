// Shared by the HTTP fuzz targets (http_fuzz.cpp, server_fuzz.cpp): the echo Dispatcher of the
// corpus (tests/native/http_driver.cpp, /work/shared/http-corpus/README.md), an in-memory driver
// for http::Connection, and a strict parser of what the connection wrote, which checks that the
// output is a well-formed sequence of responses and normalises it for comparisons.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "http/connection.hpp"
#include "http/parser.hpp"
#include "http/response.hpp"

namespace fuzzcommon {

namespace fh = fasterapi::http;

[[noreturn]] inline void die(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "FUZZ INVARIANT: %s\n", what);
  if (!detail.empty()) {
    std::string shown(detail.substr(0, 2000));
    for (char& c : shown)
      if ((c < 0x20 && c != '\n') || c == 0x7f) c = '.';
    std::fprintf(stderr, "---\n%s\n---\n", shown.c_str());
  }
  std::abort();
}

// One request as the echo endpoint answered it (in the order handle() was called).
struct Rec {
  std::string body;  // "ECHO <METHOD> <raw path> len=<n> host=<host>\n"
  int status = 200;
  bool head_only = false;
  bool close = false;
};

// Checks what every handle() call may rely on, and builds the echo response.
inline Rec echo_of(const fh::Request& req, const fh::Limits& limits) {
  if (req.method.empty()) die("handle(): empty method");
  for (char c : req.method)
    if (!fasterapi::http::detail::is(fasterapi::http::detail::kTchar, c)) die("handle(): method is not a token", req.method);
  if (req.target.empty()) die("handle(): empty target");
  if (req.path.empty()) die("handle(): empty path", req.target);
  if (req.version_minor > 1) die("handle(): version");
  if (req.num_headers > limits.max_headers || req.num_headers > fh::kMaxHeaders) die("handle(): too many headers");
  if (req.body.size() != req.content_length) die("handle(): body size != content_length");
  if (req.version_minor == 1 && req.host.empty()) die("handle(): HTTP/1.1 request without a host");
  for (uint32_t i = 0; i < req.num_headers; ++i) {
    const auto& h = req.headers[i];
    if (h.name.empty()) die("handle(): empty header name");
    for (char c : h.name)
      if (!fasterapi::http::detail::is(fasterapi::http::detail::kTchar, c)) die("handle(): bad header name", h.name);
    for (char c : h.value)
      if (c == '\r' || c == '\n' || c == '\0') die("handle(): CR/LF/NUL in a header value", h.value);
    if (!h.value.empty() && (h.value.front() == ' ' || h.value.front() == '\t' || h.value.back() == ' ' ||
                             h.value.back() == '\t'))
      die("handle(): header value not trimmed", h.value);
  }
  if (req.is_head != (req.method == "HEAD")) die("handle(): is_head");
  Rec r;
  r.body = "ECHO ";
  r.body.append(req.method);
  r.body += ' ';
  r.body.append(req.path);
  r.body += " len=";
  r.body += std::to_string(req.body.size());
  r.body += " host=";
  r.body.append(req.host);
  r.body += '\n';
  // Touch every byte of the body (ASan checks the view is inside live memory).
  uint32_t sum = 0;
  for (char c : req.body) sum += static_cast<unsigned char>(c);
  (void)sum;
  r.head_only = req.is_head;
  r.close = !req.keep_alive;
  if (req.path == "/status/204") r.status = 204;
  else if (req.path == "/status/304") r.status = 304;
  else if (req.path == "/status/418") r.status = 418;
  return r;
}

inline void write_rec(fh::Buffer& out, const Rec& r) {
  fh::write_response(out, r.status, "text/plain", "X-Echo: 1\r\n", r.body, r.close, r.head_only);
}

// Echo dispatcher: Done (writes at once) or Pending (stored, completed later by the driver).
// A path "/limit/<N>" sets the body limit of that request to N bytes.
class EchoDispatcher : public fh::Dispatcher {
 public:
  EchoDispatcher(const fh::Limits& limits, bool pending) : limits_(limits), pending_mode_(pending) {}

  uint64_t body_limit(const fh::Request& head) override {
    std::string_view p = head.path;
    if (p.substr(0, 7) == "/limit/") {
      uint64_t v = 0;
      for (size_t i = 7; i < p.size() && i < 25 && p[i] >= '0' && p[i] <= '9'; ++i) v = v * 10 + uint64_t(p[i] - '0');
      return v;
    }
    return limits_.max_body;
  }

  fh::HandleResult handle(const fh::Request& req, fh::Buffer& out) override {
    if (pending_mode_ && !waiting.empty()) die("handle() called while a response is pending");
    Rec r = echo_of(req, limits_);
    handled.push_back(r);
    if (pending_mode_) {
      waiting.push_back(std::move(r));
      return fh::HandleResult::Pending;
    }
    write_rec(out, r);
    return fh::HandleResult::Done;
  }

  std::vector<Rec> handled;
  std::deque<Rec> waiting;

 private:
  const fh::Limits& limits_;
  bool pending_mode_;
};

// A parsed final response (1xx are checked and dropped).
struct Resp {
  int status = 0;
  bool close = false;
  bool echo = false;
  std::string norm;  // head without the Date value, then the body
};

inline bool is_tchar(char c) { return fasterapi::http::detail::is(fasterapi::http::detail::kTchar, c); }

// Parses everything the server sent. `handled` tells which echo responses had no body (HEAD).
// Dies on anything malformed; returns the responses.
inline std::vector<Resp> parse_output(std::string_view raw, const std::vector<Rec>& handled, size_t* n100 = nullptr) {
  std::vector<Resp> out;
  size_t pos = 0, echo_i = 0;
  if (n100) *n100 = 0;
  while (pos < raw.size()) {
    if (!out.empty() && out.back().close) die("bytes after a Connection: close response", raw.substr(pos));
    size_t eol = raw.find("\r\n", pos);
    if (eol == std::string_view::npos) die("truncated status line", raw.substr(pos));
    std::string_view sl = raw.substr(pos, eol - pos);
    if (sl.size() < 13 || sl.substr(0, 9) != "HTTP/1.1 " || sl[12] != ' ') die("bad status line", sl);
    int status = 0;
    for (int i = 9; i < 12; ++i) {
      if (sl[i] < '0' || sl[i] > '9') die("bad status code", sl);
      status = status * 10 + (sl[i] - '0');
    }
    if (sl.substr(13) != fh::reason_phrase(status)) die("wrong reason phrase", sl);
    pos = eol + 2;
    if (status < 200) {
      if (status != 100 || raw.substr(pos, 2) != "\r\n") die("1xx other than a bare 100 Continue", sl);
      pos += 2;
      if (n100) ++*n100;
      continue;
    }
    Resp r;
    r.status = status;
    r.norm.assign(sl);
    r.norm += "\r\n";
    long cl = -1;
    int cls = 0;
    bool date = false;
    for (;;) {
      eol = raw.find("\r\n", pos);
      if (eol == std::string_view::npos) die("truncated response head", raw.substr(pos));
      std::string_view line = raw.substr(pos, eol - pos);
      pos = eol + 2;
      if (line.empty()) break;
      size_t colon = line.find(": ");
      if (colon == std::string_view::npos || colon == 0) die("bad response header line", line);
      std::string_view name = line.substr(0, colon), value = line.substr(colon + 2);
      for (char c : name)
        if (!is_tchar(c)) die("bad response header name", line);
      for (char c : value)
        if (c == '\r' || c == '\n' || c == '\0') die("bad response header value", line);
      if (name == "Date") {
        date = true;
        r.norm += "Date: -\r\n";
        continue;
      }
      if (name == "Content-Length") {
        ++cls;
        if (value.empty() || value.size() > 12) die("bad Content-Length", line);
        cl = 0;
        for (char c : value) {
          if (c < '0' || c > '9') die("bad Content-Length", line);
          cl = cl * 10 + (c - '0');
        }
      }
      if (name == "Connection" && value == "close") r.close = true;
      if (name == "X-Echo") r.echo = true;
      r.norm.append(line);
      r.norm += "\r\n";
    }
    if (!date) die("response without Date", r.norm);
    r.norm += "\r\n";
    bool bodiless = status == 204 || status == 304;
    if (bodiless ? cls != 0 : cls != 1) die("Content-Length count wrong for the status", r.norm);
    bool head_only = false;
    if (r.echo) {
      if (echo_i >= handled.size()) die("more echo responses than handled requests", r.norm);
      const Rec& rec = handled[echo_i++];
      if (rec.status != status || rec.close != r.close) die("echo response does not match its request", r.norm);
      head_only = rec.head_only;
      if (!bodiless && !head_only && size_t(cl) != rec.body.size()) die("echo Content-Length mismatch", r.norm);
    } else if (status < 400) {
      die("a non-error response not written by the dispatcher", r.norm);
    }
    if (status >= 400 && !r.close && !r.echo) die("an error response without Connection: close", r.norm);
    if (!bodiless && !head_only) {
      if (raw.size() - pos < size_t(cl)) die("truncated response body", r.norm);
      std::string_view body = raw.substr(pos, size_t(cl));
      if (r.echo && body != handled[echo_i - 1].body) die("echo body mismatch", body);
      if (!r.echo) {
        std::string want = "{\"detail\":\"";
        want.append(fh::reason_phrase(status));
        want += "\"}";
        if (body != want) die("error body", body);
      }
      r.norm.append(body);
      pos += size_t(cl);
    }
    out.push_back(std::move(r));
  }
  return out;
}

inline std::string normalized(const std::vector<Resp>& rs) {
  std::string s;
  for (const auto& r : rs) s += r.norm;
  return s;
}

// An in-memory connection as an event loop drives it: after each event, complete a pending
// response, send output (unless the peer does not read), resume processing.
struct Session {
  fh::Limits limits;
  bool no_drain = false;
  EchoDispatcher disp;
  fh::Connection conn;
  std::string sent;
  bool closed = false, closed_before_eof = false, eof = false;

  Session(const fh::Limits& lim, bool pending, bool no_drain_)
      : limits(lim), no_drain(no_drain_), disp(limits, pending), conn(limits, disp) {}

  void pump(bool final_drain = false) {
    for (int guard = 0; guard < 100000 && !closed; ++guard) {
      bool progress = false;
      if (conn.pending() && !disp.waiting.empty()) {
        Rec r = std::move(disp.waiting.front());
        disp.waiting.pop_front();
        if (conn.draining()) r.close = true, disp.handled[disp.handled.size() - 1].close = true;
        write_rec(conn.output(), r);
        conn.complete();
        progress = true;
      }
      fh::Buffer& out = conn.output();
      if ((!no_drain || final_drain) && !out.empty()) {
        sent.append(out.data(), out.size());
        out.consume(out.size());
        progress = true;
      }
      if (out.empty() && conn.should_close() && !conn.pending()) {
        closed = true;
        closed_before_eof = !eof;
        break;
      }
      if (out.empty() && !conn.pending()) {
        conn.resume();
        if (!out.empty() || conn.pending()) progress = true;
      }
      if (!progress) break;
    }
  }
  void data(const char* p, size_t n) {
    if (closed) return;
    conn.on_data(p, n);
    pump();
  }
  void end() {
    if (closed) return;
    eof = true;
    conn.on_eof();
    pump();
  }
  void finish() { pump(true); }
};

// Limits chosen by the fuzz input: the defaults, or small ones so that every limit is reachable.
inline fh::Limits pick_limits(unsigned v, const uint8_t* extra) {
  fh::Limits lim;
  switch (v & 3) {
    case 0:
      break;
    case 1:
      lim.max_request_line = 64;
      lim.max_head = 256;
      lim.max_headers = 4;
      lim.max_body = 64;
      lim.max_pipelined = 2;
      lim.output_high_water = 1;
      break;
    case 2:
      lim.max_request_line = 16 + extra[0] % 64;
      lim.max_head = 32 + extra[1] * 2u;
      lim.max_headers = extra[2] % 8;
      lim.max_body = extra[3];
      lim.max_pipelined = extra[0] % 4;
      lim.output_high_water = 1 + extra[1] * 4u;
      break;
    case 3:
      lim.max_headers = fh::kMaxHeaders + 10;  // above the hard bound: clamped
      lim.max_body = 0;
      lim.output_high_water = 200;
      break;
  }
  return lim;
}

}  // namespace fuzzcommon
