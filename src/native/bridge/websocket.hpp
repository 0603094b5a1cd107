// The WebSocket upgrade path of the bridge: a handshake request is checked here (400/426/403 are
// answered in C++), then handed to Python as (RequestData, _core.WebSocketLink). The link is how
// the Python session accepts (101 + Connection::upgrade), refuses, sends frames and closes; the
// Connection reports whole messages and the close back through the callbacks given to accept().
#pragma once
#include <memory>
#include <string>
#include <string_view>

#include "bridge/engine.hpp"

namespace fasterapi::bridge {

// For a request with Request::websocket_upgrade. Done (a response was written) or Pending (the
// Python session answers later through the link).
http::HandleResult handle_websocket(EngineObject* e, const std::shared_ptr<server::ConnLink>& link,
                                    const http::Request& req, std::string_view decoded_path, const std::string& host,
                                    int port, http::Buffer& out);

extern PyType_Spec websocket_link_spec;

}  // namespace fasterapi::bridge
