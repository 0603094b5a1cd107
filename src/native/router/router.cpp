#include "router/router.hpp"

#include <algorithm>
#include <stdexcept>

namespace fasterapi::router {
namespace {

enum class ParamKind { Str, Int, Float, Uuid, Path };

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// Mirrors Starlette's convertor regexes, applied to one segment (Path takes the rest).
bool segment_fits(ParamKind kind, std::string_view s) {
  switch (kind) {
    case ParamKind::Str: return !s.empty();
    case ParamKind::Int: return !s.empty() && std::all_of(s.begin(), s.end(), is_digit);
    case ParamKind::Float: {  // [0-9]+(\.[0-9]+)?
      size_t i = 0;
      while (i < s.size() && is_digit(s[i])) ++i;
      if (i == 0) return false;
      if (i == s.size()) return true;
      if (s[i] != '.' || i + 1 == s.size()) return false;
      for (++i; i < s.size(); ++i)
        if (!is_digit(s[i])) return false;
      return true;
    }
    case ParamKind::Uuid: {
      if (s.size() != 36) return false;
      for (size_t i = 0; i < 36; ++i) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !is_hex(s[i])) return false;
      }
      return true;
    }
    case ParamKind::Path: return true;
  }
  return false;
}

}  // namespace

struct Endpoint {
  int route;
  std::vector<std::string> methods;
  bool allows(std::string_view m) const {
    for (auto& x : methods)
      if (x == m) return true;
    return false;
  }
};

struct Router::Node {
  std::string literal;  // for static children
  std::string param_name;
  ParamKind kind = ParamKind::Str;
  std::vector<std::unique_ptr<Node>> statics;  // few per node: linear scan beats hashing
  std::vector<std::unique_ptr<Node>> params;   // {name} / {name:int} ... one segment each
  std::vector<std::unique_ptr<Node>> paths;    // {name:path}: the rest of the path
  std::vector<Endpoint> endpoints;             // routes ending here
};

Router::Router() : root_(std::make_unique<Node>()) {}
Router::~Router() = default;

void Router::add(const std::vector<std::string>& methods, std::string_view tmpl, int route, bool head_from_get) {
  if (tmpl.empty() || tmpl[0] != '/') throw std::invalid_argument("route path must start with '/'");
  Node* node = root_.get();
  size_t pos = 1;
  int captures = 0;
  // Segments split on '/'; the template's trailing slash is significant (as in Starlette).
  while (true) {
    size_t end = tmpl.find('/', pos);
    std::string_view seg = tmpl.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    bool is_param = seg.size() >= 2 && seg.front() == '{' && seg.back() == '}';
    if (!is_param && seg.find_first_of("{}") != std::string_view::npos)
      throw std::invalid_argument("a path parameter must span a whole segment: " + std::string(tmpl));
    if (is_param) {
      std::string_view inner = seg.substr(1, seg.size() - 2);
      std::string_view name = inner, conv = "str";
      if (size_t colon = inner.find(':'); colon != std::string_view::npos) {
        name = inner.substr(0, colon);
        conv = inner.substr(colon + 1);
      }
      if (name.empty()) throw std::invalid_argument("empty path parameter name");
      ParamKind kind;
      if (conv == "str")
        kind = ParamKind::Str;
      else if (conv == "int")
        kind = ParamKind::Int;
      else if (conv == "float")
        kind = ParamKind::Float;
      else if (conv == "uuid")
        kind = ParamKind::Uuid;
      else if (conv == "path")
        kind = ParamKind::Path;
      else
        throw std::invalid_argument("unknown path convertor: " + std::string(conv));
      if (++captures > kMaxCaptures) throw std::invalid_argument("too many path parameters");
      auto& list = kind == ParamKind::Path ? node->paths : node->params;
      Node* next = nullptr;
      for (auto& c : list)
        if (c->param_name == name && c->kind == kind) next = c.get();
      if (!next) {
        list.push_back(std::make_unique<Node>());
        next = list.back().get();
        next->param_name = std::string(name);
        next->kind = kind;
      }
      node = next;
      if (kind == ParamKind::Path) {
        if (end != std::string_view::npos) throw std::invalid_argument("{name:path} must be the last segment");
        break;
      }
    } else {
      Node* next = nullptr;
      for (auto& c : node->statics)
        if (c->literal == seg) next = c.get();
      if (!next) {
        node->statics.push_back(std::make_unique<Node>());
        next = node->statics.back().get();
        next->literal = std::string(seg);
      }
      node = next;
    }
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  Endpoint ep{route, methods};
  if (head_from_get && std::find(methods.begin(), methods.end(), "GET") != methods.end() &&
      std::find(methods.begin(), methods.end(), "HEAD") == methods.end())
    ep.methods.push_back("HEAD");
  node->endpoints.push_back(std::move(ep));
  ++count_;
}

namespace {

struct Search {
  std::string_view method;
  Match& out;
  Capture stack[kMaxCaptures];
  int depth = 0;
  int best_partial = -1;
  std::vector<const std::vector<std::string>*> partial_methods;
};

}  // namespace

// Depth-first over every branch that fits, keeping the lowest route id that allows the method.
static void walk(const Router::Node* node, std::string_view rest, Search& s);

static void arrive(const Router::Node* node, Search& s) {
  for (const Endpoint& ep : node->endpoints) {
    if (ep.allows(s.method)) {
      if (s.out.kind != Match::Found || ep.route < s.out.route) {
        s.out.kind = Match::Found;
        s.out.route = ep.route;
        s.out.num_captures = s.depth;
        std::copy(s.stack, s.stack + s.depth, s.out.captures);
      }
    } else {
      s.partial_methods.push_back(&ep.methods);
    }
  }
}

static void walk(const Router::Node* node, std::string_view rest, Search& s) {
  // `rest` is what follows the '/' that ended the previous segment.
  size_t slash = rest.find('/');
  std::string_view seg = rest.substr(0, slash);
  bool last = slash == std::string_view::npos;
  std::string_view after = last ? std::string_view() : rest.substr(slash + 1);
  for (const auto& c : node->statics) {
    if (c->literal == seg) {
      if (last)
        arrive(c.get(), s);
      else
        walk(c.get(), after, s);
    }
  }
  for (const auto& c : node->params) {
    if (!segment_fits(c->kind, seg)) continue;
    s.stack[s.depth++] = {c->param_name, seg};
    if (last)
      arrive(c.get(), s);
    else
      walk(c.get(), after, s);
    --s.depth;
  }
  for (const auto& c : node->paths) {
    s.stack[s.depth++] = {c->param_name, rest};
    arrive(c.get(), s);
    --s.depth;
  }
}

void Router::match(std::string_view method, std::string_view path, Match& out) const {
  out.kind = Match::NotFound;
  out.route = -1;
  out.num_captures = 0;
  out.allow.clear();
  if (path.empty() || path[0] != '/') return;
  Search s{method, out};
  walk(root_.get(), path.substr(1), s);
  if (out.kind == Match::Found || s.partial_methods.empty()) return;
  out.kind = Match::MethodNotAllowed;
  std::vector<std::string> allow;
  for (auto* ms : s.partial_methods)
    for (auto& m : *ms)
      if (std::find(allow.begin(), allow.end(), m) == allow.end()) allow.push_back(m);
  for (auto& m : allow) {
    if (!out.allow.empty()) out.allow += ", ";
    out.allow += m;
  }
}

}  // namespace fasterapi::router
