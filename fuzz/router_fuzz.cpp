// libFuzzer target: router::Router with random templates (well-formed, malformed and raw bytes)
// and random paths, checked against a direct reference matcher written from the documented
// semantics (Starlette's): segments split on '/', {name} / {name:str|int|float|uuid} match one
// non-empty segment by the convertor's regex, {name:path} the rest of the path; among the matching
// templates the lowest route id that allows the method wins (GET implies HEAD), a path that
// matches only under other methods is a 405 whose Allow lists their methods.
//
// Invariants: no crash, add() throws std::invalid_argument exactly for malformed templates, the
// verdict (404/405/found), the route id, the Allow set and the captures (names and values) agree
// with the reference, and every capture value is a substring of the matched path.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "router/router.hpp"

namespace fr = fasterapi::router;

namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "ROUTER FUZZ: %s\n", what.c_str());
  std::abort();
}

enum Kind { Lit, Str, Int, Float, Uuid, Path };

struct Seg {
  Kind kind = Lit;
  std::string text;  // literal, or the parameter name
};

struct RefRoute {
  bool valid = false;
  std::vector<Seg> segs;
  std::vector<std::string> methods;
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  for (;;) {
    size_t e = s.find(sep, pos);
    out.push_back(s.substr(pos, e == std::string::npos ? std::string::npos : e - pos));
    if (e == std::string::npos) break;
    pos = e + 1;
  }
  return out;
}

RefRoute ref_parse(const std::string& tmpl, const std::vector<std::string>& methods) {
  RefRoute r;
  r.methods = methods;
  if (std::find(methods.begin(), methods.end(), "GET") != methods.end() &&
      std::find(methods.begin(), methods.end(), "HEAD") == methods.end())
    r.methods.push_back("HEAD");
  if (tmpl.empty() || tmpl[0] != '/') return r;
  std::vector<std::string> parts = split(tmpl.substr(1), '/');
  int captures = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string& p = parts[i];
    Seg s;
    if (p.size() >= 2 && p.front() == '{' && p.back() == '}') {
      std::string inner = p.substr(1, p.size() - 2), conv = "str";
      size_t colon = inner.find(':');
      s.text = inner;
      if (colon != std::string::npos) {
        s.text = inner.substr(0, colon);
        conv = inner.substr(colon + 1);
      }
      if (s.text.empty()) return r;
      if (conv == "str") s.kind = Str;
      else if (conv == "int") s.kind = Int;
      else if (conv == "float") s.kind = Float;
      else if (conv == "uuid") s.kind = Uuid;
      else if (conv == "path") s.kind = Path;
      else return r;
      if (++captures > fr::kMaxCaptures) return r;
      if (s.kind == Path && i + 1 != parts.size()) return r;
    } else {
      if (p.find_first_of("{}") != std::string::npos) return r;
      s.text = p;
    }
    r.segs.push_back(s);
  }
  r.valid = true;
  return r;
}

bool digits(const std::string& s, size_t from, size_t to) {
  if (from >= to) return false;
  for (size_t i = from; i < to; ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

bool fits(Kind k, const std::string& s) {
  switch (k) {
    case Str: return !s.empty();
    case Int: return digits(s, 0, s.size());
    case Float: {
      size_t dot = s.find('.');
      if (dot == std::string::npos) return digits(s, 0, s.size());
      return digits(s, 0, dot) && digits(s, dot + 1, s.size());
    }
    case Uuid: {
      if (s.size() != 36) return false;
      for (size_t i = 0; i < 36; ++i) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        bool hex = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F');
        if (dash ? s[i] != '-' : !hex) return false;
      }
      return true;
    }
    default: return false;
  }
}

bool ref_match(const RefRoute& r, const std::string& path, std::vector<std::pair<std::string, std::string>>& caps) {
  caps.clear();
  if (path.empty() || path[0] != '/') return false;
  std::vector<std::string> ps = split(path.substr(1), '/');
  for (size_t i = 0; i < r.segs.size(); ++i) {
    const Seg& s = r.segs[i];
    if (s.kind == Path) {
      if (i >= ps.size()) return false;
      std::string rest = ps[i];
      for (size_t j = i + 1; j < ps.size(); ++j) rest += "/" + ps[j];
      caps.emplace_back(s.text, rest);
      return true;
    }
    if (i >= ps.size()) return false;
    if (s.kind == Lit) {
      if (s.text != ps[i]) return false;
    } else {
      if (!fits(s.kind, ps[i])) return false;
      caps.emplace_back(s.text, ps[i]);
    }
  }
  return ps.size() == r.segs.size();
}

const char* kLits[] = {"", "a", "b", "items", "users", "me", "1", "x.y", "%41", "files", "{", "}", "a{b}", "..", "."};
const char* kConvs[] = {"", ":int", ":float", ":uuid", ":path", ":str", ":", ":bad", ":path:int"};
const char* kNames[] = {"id", "p", "x", "id", "", "a{b", "n_1"};
const char* kMethods[] = {"GET", "POST", "PUT", "HEAD", "DELETE", "PATCH", "get"};
const char* kPathSegs[] = {"", "a", "b", "items", "users", "me", "1", "42", "007", "1.5", "1.", ".5", "x.y",
                           "123e4567-e89b-12d3-a456-426614174000", "123E4567-E89B-12D3-A456-42661417400G",
                           "files", "%41", " ", "-1"};

std::string gen_template(FuzzedDataProvider& fdp) {
  if (fdp.ConsumeIntegralInRange(0, 7) == 0) return fdp.ConsumeRandomLengthString(48);
  std::string t;
  int nseg = fdp.ConsumeIntegralInRange(0, 6);
  if (nseg == 0) return fdp.ConsumeBool() ? "/" : "";
  for (int i = 0; i < nseg; ++i) {
    t += '/';
    switch (fdp.ConsumeIntegralInRange(0, 3)) {
      case 0:
      case 1:
        t += kLits[fdp.ConsumeIntegralInRange<size_t>(0, std::size(kLits) - 1)];
        break;
      case 2:
        t += '{';
        t += kNames[fdp.ConsumeIntegralInRange<size_t>(0, std::size(kNames) - 1)];
        if (fdp.ConsumeBool()) t += std::to_string(i);
        t += kConvs[fdp.ConsumeIntegralInRange<size_t>(0, std::size(kConvs) - 1)];
        t += '}';
        break;
      default:
        t += fdp.ConsumeRandomLengthString(6);
        break;
    }
  }
  return t;
}

std::string gen_path(FuzzedDataProvider& fdp) {
  if (fdp.ConsumeIntegralInRange(0, 7) == 0) return fdp.ConsumeRandomLengthString(64);
  std::string p;
  int nseg = fdp.ConsumeIntegralInRange(0, 7);
  if (nseg == 0) return "/";
  for (int i = 0; i < nseg; ++i) {
    p += '/';
    if (fdp.ConsumeIntegralInRange(0, 4) == 0) p += fdp.ConsumeRandomLengthString(8);
    else p += kPathSegs[fdp.ConsumeIntegralInRange<size_t>(0, std::size(kPathSegs) - 1)];
  }
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider fdp(data, size);
  fr::Router router;
  std::vector<RefRoute> refs;
  int nroutes = fdp.ConsumeIntegralInRange(0, 12);
  for (int i = 0; i < nroutes; ++i) {
    std::string tmpl = gen_template(fdp);
    std::vector<std::string> methods;
    int nm = fdp.ConsumeIntegralInRange(0, 3);
    for (int k = 0; k < nm; ++k) methods.push_back(kMethods[fdp.ConsumeIntegralInRange<size_t>(0, std::size(kMethods) - 1)]);
    RefRoute ref = ref_parse(tmpl, methods);
    int id = int(refs.size());
    bool threw = false;
    try {
      router.add(methods, tmpl, id);
    } catch (const std::invalid_argument&) {
      threw = true;
    }
    if (threw == ref.valid) die("add(\"" + tmpl + "\") " + (threw ? "threw for a valid template" : "accepted a malformed template"));
    if (!threw) refs.push_back(ref);
  }
  if (router.size() != refs.size()) die("size()");

  fr::Match m;
  int npaths = fdp.ConsumeIntegralInRange(1, 16);
  for (int i = 0; i < npaths; ++i) {
    std::string path = gen_path(fdp);
    std::string method = fdp.ConsumeBool() ? kMethods[fdp.ConsumeIntegralInRange<size_t>(0, std::size(kMethods) - 1)]
                                           : fdp.ConsumeRandomLengthString(8);
    router.match(method, path, m);

    int want = -1;
    std::set<std::string> allow;
    bool partial = false;
    std::vector<std::pair<std::string, std::string>> caps, want_caps;
    for (size_t r = 0; r < refs.size(); ++r) {
      if (!ref_match(refs[r], path, caps)) continue;
      bool allowed = std::find(refs[r].methods.begin(), refs[r].methods.end(), method) != refs[r].methods.end();
      if (allowed && want < 0) {
        want = int(r);
        want_caps = caps;
      }
      if (!allowed) {
        partial = true;
        allow.insert(refs[r].methods.begin(), refs[r].methods.end());
      }
    }
    std::string ctx = method + " " + path;
    if (want >= 0) {
      if (m.kind != fr::Match::Found) die("expected a match: " + ctx);
      if (m.route != want) die("wrong route " + std::to_string(m.route) + " want " + std::to_string(want) + ": " + ctx);
      if (m.num_captures != int(want_caps.size())) die("capture count: " + ctx);
      for (int c = 0; c < m.num_captures; ++c) {
        const fr::Capture& cap = m.captures[c];
        if (cap.value.data() < path.data() || cap.value.data() + cap.value.size() > path.data() + path.size())
          die("capture outside the path: " + ctx);
        if (cap.name != want_caps[c].first || cap.value != want_caps[c].second)
          die("capture " + std::string(cap.name) + "=" + std::string(cap.value) + " want " + want_caps[c].first + "=" +
              want_caps[c].second + ": " + ctx);
      }
    } else if (partial) {
      if (m.kind != fr::Match::MethodNotAllowed) die("expected 405: " + ctx);
      std::set<std::string> got;
      std::string a = m.allow;
      for (size_t pos = 0; !a.empty() && pos <= a.size();) {
        size_t e = a.find(", ", pos);
        got.insert(a.substr(pos, e == std::string::npos ? std::string::npos : e - pos));
        if (e == std::string::npos) break;
        pos = e + 2;
      }
      if (got != allow) die("Allow \"" + m.allow + "\" differs: " + ctx);
    } else {
      if (m.kind != fr::Match::NotFound) die("expected 404: " + ctx);
    }
  }
  return 0;
}
