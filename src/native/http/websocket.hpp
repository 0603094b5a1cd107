// WebSocket (RFC 6455) for an upgraded http::Connection: the opening handshake checks, the
// Sec-WebSocket-Accept value (SHA-1 + base64), a streaming frame decoder and the frame writer.
// No I/O and no Python: the Connection feeds the decoder and reports whole messages to a Handler.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "buffer.hpp"
#include "message.hpp"

namespace fasterapi::http::ws {

constexpr uint64_t kDefaultMaxMessage = 16 * 1024 * 1024;

enum Opcode : uint8_t { kCont = 0x0, kText = 0x1, kBinary = 0x2, kClose = 0x8, kPing = 0x9, kPong = 0xA };

// Close codes used by the engine itself.
constexpr uint16_t kNormal = 1000, kGoingAway = 1001, kProtocolError = 1002, kNoStatus = 1005, kAbnormal = 1006,
                   kInvalidData = 1007, kTooBig = 1009, kInternalError = 1011;

// ---- the opening handshake (RFC 6455 4.2.1) ----------------------------------------------------

// A request the server must treat as a WebSocket handshake: GET with "websocket" among its
// Upgrade tokens (Request::websocket_upgrade). check_handshake() then returns 0 when it is valid
// (key set to its Sec-WebSocket-Key), 426 for an unsupported Sec-WebSocket-Version (answer with
// "Sec-WebSocket-Version: 13"), else 400.
int check_handshake(const Request& req, std::string_view& key);

// base64(SHA-1(key + the RFC 6455 GUID)): the Sec-WebSocket-Accept value.
std::string accept_value(std::string_view key);

// Exposed for tests: SHA-1 digest (20 bytes) and base64 (with padding).
void sha1(std::string_view data, unsigned char out[20]);
std::string base64(const unsigned char* data, size_t n);

bool valid_utf8(std::string_view s);
// A close code an endpoint may send (RFC 6455 7.4.1, 7.4.2 and the IANA registry's 1012-1014).
bool valid_close_code(uint16_t code);

// ---- frames ------------------------------------------------------------------------------------

// One unmasked, final frame (what a server sends).
void write_frame(Buffer& out, Opcode op, std::string_view payload);
// A close frame: code (none when 1005) and a reason cut to fit the 125-byte control payload.
void write_close(Buffer& out, uint16_t code, std::string_view reason);

// Streaming decoder of client frames. Its verdicts do not depend on how the bytes were split;
// its own buffers are bounded: a message by max_message, a control payload by 125 bytes.
class Decoder {
 public:
  enum class Event : uint8_t { NeedMore, Message, Ping, Pong, Close, Error };

  explicit Decoder(uint64_t max_message) : max_message_(max_message) {}

  // Consumes bytes until an event is complete (used = bytes consumed). After Message the payload
  // is the whole message (text() says which kind; text is valid UTF-8); after Ping/Pong the control
  // payload; after Close code()/reason(); after Error code() is the close code to send (1002
  // protocol error, 1007 invalid UTF-8, 1009 too big). Nothing may be fed after Close or Error.
  Event next(const char* data, size_t n, size_t& used);

  std::string_view payload() const { return in_control_ ? std::string_view(control_) : std::string_view(message_); }
  bool text() const { return message_text_; }
  uint16_t code() const { return code_; }
  std::string_view reason() const { return reason_; }

 private:
  Event fail(uint16_t code) {
    code_ = code;
    return Event::Error;
  }
  Event header_complete();
  Event frame_complete();

  uint64_t max_message_;
  unsigned char head_[14];
  uint8_t head_len_ = 0, head_need_ = 2;
  bool in_payload_ = false;
  uint8_t opcode_ = 0;
  bool fin_ = false;
  unsigned char mask_[4] = {0, 0, 0, 0};
  uint64_t remaining_ = 0;
  uint64_t mask_pos_ = 0;
  bool in_message_ = false;  // a fragmented message is in progress
  bool message_text_ = false;
  bool in_control_ = false;  // the last event's payload is a control payload
  std::string message_;
  std::string control_;
  uint16_t code_ = 0;
  std::string_view reason_;
};

// What an upgraded Connection reports, at message level.
class Handler {
 public:
  virtual ~Handler() = default;
  // A complete message. Return false to stop reading until Connection::ws_resume_reading().
  virtual bool on_message(bool text, std::string_view payload) = 0;
  // Called once when the WebSocket ends: the peer's close frame (its code; 1005 without one), a
  // protocol error (the code sent: 1002, 1007, 1009), our own close (its code), or 1006 when the
  // transport ended without a close frame.
  virtual void on_close(uint16_t code, std::string_view reason) = 0;
  // The output was flushed (after Connection::ws_notify_writable()).
  virtual void on_writable() {}
};

}  // namespace fasterapi::http::ws
