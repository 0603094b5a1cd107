// _core.RequestData: an owned copy of one request, handed to the Python layer. Python objects
// for its fields are made on first access only.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "bridge/state.hpp"
#include "http/message.hpp"
#include "router/router.hpp"
#include "server/link.hpp"

namespace fasterapi::bridge {

struct RequestFields {
  std::string method, raw_path, path, query, body, client_host;
  int client_port = -1;
  int version_minor = 1;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::vector<std::pair<std::string, std::string>> path_params;
  std::string server_host;
  int server_port = 0;
  bool https = false;  // the connection is TLS
  bool http2 = false;  // the request came on an HTTP/2 stream (http_version "2")
};

// Builds a RequestData object (new reference) from a request view, its decoded path and captures.
PyObject* make_request_data(ModuleState* st, const http::Request& req, std::string_view decoded_path,
                            const router::Match* match, const std::string& client_host, int client_port);

// Sets RequestData.server (the address the request's connection was accepted on; none if
// empty) and RequestData.scheme (https on a TLS connection) from the request's connection.
void set_request_connection(PyObject* request_data, const server::ConnLink& link);

// Sets RequestData.body_reader (None until then); steals `reader`.
void set_body_reader(PyObject* request_data, PyObject* reader);

}  // namespace fasterapi::bridge
