// Path router: a segment trie built at registration, matched per request without allocation.
// Semantics follow Starlette/FastAPI: among the routes whose template matches the path, the first
// registered one that allows the method wins; a path that matches only under other methods is a 405.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace fasterapi::router {

struct Capture {
  std::string_view name;   // points into the router (stable for its lifetime)
  std::string_view value;  // points into the matched path
};

constexpr int kMaxCaptures = 16;

struct Match {
  enum Kind { NotFound, MethodNotAllowed, Found } kind = NotFound;
  int route = -1;  // route id given to add()
  Capture captures[kMaxCaptures];
  int num_captures = 0;
  std::string allow;  // for MethodNotAllowed: "GET, POST"
};

class Router {
 public:
  Router();
  ~Router();
  // Registers a template (`/items/{id}`, `/files/{p:path}`, `{n:int}`) for the given methods
  // under `route` (its id; lower ids were registered first). Throws std::invalid_argument on a
  // malformed template. A GET route also answers HEAD (RFC 9110 9.3.2) unless `head_from_get` is
  // false (FastAPI's APIRoute answers only the methods it lists).
  void add(const std::vector<std::string>& methods, std::string_view path_template, int route,
           bool head_from_get = true);
  // `path` must already be percent-decoded.
  void match(std::string_view method, std::string_view path, Match& out) const;
  size_t size() const { return count_; }

  struct Node;  // public so the matcher's helpers can walk it; defined in router.cpp

 private:
  std::unique_ptr<Node> root_;
  size_t count_ = 0;
};

}  // namespace fasterapi::router
