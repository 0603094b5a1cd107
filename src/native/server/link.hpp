// What a response that finishes later (an awaiting coroutine) needs to find its connection again.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "http/connection.hpp"

namespace fasterapi::server {

struct ConnLink {
  http::Connection* conn = nullptr;  // null once the connection is gone: drop the late response
  std::function<void()> kick;        // after Connection::complete(): flush and resume reading
  std::string local_host;            // the socket's own address (ASGI scope["server"]); empty: none
  int local_port = 0;
  bool tls = false;    // the connection is TLS (scope["scheme"] https / wss)
  bool http2 = false;  // an HTTP/2 stream's (scope["http_version"] "2")
};

// A Dispatcher bound to one connection (the bridge implements it).
class ConnectionDispatcher : public http::Dispatcher {
 public:
  std::shared_ptr<ConnLink> link = std::make_shared<ConnLink>();
};

}  // namespace fasterapi::server
