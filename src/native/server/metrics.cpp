#include "server/metrics.hpp"

#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <mutex>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

namespace fasterapi::server::metrics {

WorkerSlot* g_slot = nullptr;

namespace {

Region* g_region = nullptr;
std::string g_path;
struct Label {
  std::string methods, path;
};
std::vector<Label> g_labels;  // by compiled route index (the engine's add_route order)
// Each loop thread's engine notes its routes at its startup (--loop-threads: several at once)
std::mutex g_labels_mutex;

size_t region_bytes(int workers) { return sizeof(Region) + sizeof(WorkerSlot) * size_t(workers - 1); }

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

// The request clock. Two clock_gettime calls per request were most of the counting's cost on a
// compiled route (~20 ns each through the vDSO); the TSC is read in a few ns. It is calibrated once
// against CLOCK_MONOTONIC (the kernel keeps it constant-rate and synchronised where it is the
// clocksource; elsewhere the error only moves a request across a bucket boundary).
#if defined(__x86_64__) || defined(__i386__)
inline uint64_t ticks() { return __rdtsc(); }
constexpr bool kTsc = true;
#else
inline uint64_t ticks() { return now_ns(); }
constexpr bool kTsc = false;
#endif
double g_ns_per_tick = 1.0;
uint64_t g_bucket_ticks[kBuckets - 1];  // kBucketBounds in ticks

void calibrate() {
  static bool done = false;
  if (done) return;
  done = true;
  if (kTsc) {
    const uint64_t n0 = now_ns(), t0 = ticks();
    uint64_t n1 = n0;
    while (n1 - n0 < 2000000) n1 = now_ns();  // 2 ms: ~1e-4 relative error
    const uint64_t t1 = ticks();
    if (t1 > t0) g_ns_per_tick = double(n1 - n0) / double(t1 - t0);
  }
  for (int i = 0; i < kBuckets - 1; ++i) g_bucket_ticks[i] = uint64_t(kBucketBounds[i] * 1e9 / g_ns_per_tick);
}

int bucket_of(uint64_t elapsed_ticks) {
  int i = 0;
  while (i < kBuckets - 1 && elapsed_ticks > g_bucket_ticks[i]) ++i;
  return i;
}

// Label values: backslash, double quote and line feed escaped (text format 0.0.4).
void put_label_value(std::string& out, std::string_view v) {
  for (char ch : v) {
    if (ch == '\\')
      out += "\\\\";
    else if (ch == '"')
      out += "\\\"";
    else if (ch == '\n')
      out += "\\n";
    else
      out += ch;
  }
}

void put_uint(std::string& out, uint64_t v) { out += std::to_string(v); }

void put_double(std::string& out, double v) {
  char tmp[32];
  int n = std::snprintf(tmp, sizeof tmp, "%.9g", v);
  out.append(tmp, size_t(n > 0 ? n : 0));
}

void route_labels(std::string& out, int slot) {
  out += "method=\"";
  if (slot < kMaxRoutes && size_t(slot) < g_labels.size()) {
    put_label_value(out, g_labels[size_t(slot)].methods);
    out += "\",route=\"";
    put_label_value(out, g_labels[size_t(slot)].path);
  } else {
    out += slot == kOtherSlot ? "*\",route=\"(other)" : "*\",route=\"(app)";
  }
  out += '"';
}

// A route slot's counters summed over every worker.
struct RouteSum {
  uint64_t by_class[5] = {}, in_flight = 0, buckets[kBuckets] = {}, sum_ns = 0, count = 0;
  bool any() const { return count || in_flight; }
};

RouteSum sum_route(int slot) {
  RouteSum s;
  const int n = int(g_region->workers.get());
  for (int w = 0; w < n; ++w) {
    const RouteCounters& r = g_region->slots[w].routes[slot];
    for (int c = 0; c < 5; ++c) s.by_class[c] += r.by_class[c].get();
    s.in_flight += r.in_flight.get();
    for (int b = 0; b < kBuckets; ++b) s.buckets[b] += r.buckets[b].get();
    s.sum_ns += r.sum_ns.get();
    s.count += r.count.get();
  }
  return s;
}

void render_routes(std::string& out) {
  const std::lock_guard<std::mutex> hold(g_labels_mutex);
  const int used = std::min<int>(int(g_labels.size()), kMaxRoutes);
  std::vector<int> slots;
  for (int i = 0; i < used; ++i) slots.push_back(i);
  slots.push_back(kAppSlot);
  slots.push_back(kOtherSlot);
  std::vector<RouteSum> sums;
  for (int slot : slots) sums.push_back(sum_route(slot));
  // Every known route is listed (a zero is a fact); the two catch-all series once they count.
  auto shown = [&](size_t i) { return slots[i] < kMaxRoutes || sums[i].any(); };

  out +=
      "# HELP fasterapi_requests_total Responses completed, by route and status class.\n"
      "# TYPE fasterapi_requests_total counter\n";
  static const char* kClasses[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
  for (size_t i = 0; i < slots.size(); ++i) {
    if (!shown(i)) continue;
    for (int c = 0; c < 5; ++c) {
      out += "fasterapi_requests_total{";
      route_labels(out, slots[i]);
      out += ",status=\"";
      out += kClasses[c];
      out += "\"} ";
      put_uint(out, sums[i].by_class[c]);
      out += '\n';
    }
  }
  out +=
      "# HELP fasterapi_requests_in_flight Requests dispatched whose response is not complete yet.\n"
      "# TYPE fasterapi_requests_in_flight gauge\n";
  for (size_t i = 0; i < slots.size(); ++i) {
    if (!shown(i)) continue;
    out += "fasterapi_requests_in_flight{";
    route_labels(out, slots[i]);
    out += "} ";
    put_uint(out, sums[i].in_flight);
    out += '\n';
  }
  out +=
      "# HELP fasterapi_request_duration_seconds From the request dispatched to its response complete.\n"
      "# TYPE fasterapi_request_duration_seconds histogram\n";
  for (size_t i = 0; i < slots.size(); ++i) {
    if (!shown(i)) continue;
    uint64_t cumulative = 0;
    for (int b = 0; b < kBuckets; ++b) {
      cumulative += sums[i].buckets[b];
      out += "fasterapi_request_duration_seconds_bucket{";
      route_labels(out, slots[i]);
      out += ",le=\"";
      if (b < kBuckets - 1)
        put_double(out, kBucketBounds[b]);
      else
        out += "+Inf";
      out += "\"} ";
      put_uint(out, cumulative);
      out += '\n';
    }
    out += "fasterapi_request_duration_seconds_sum{";
    route_labels(out, slots[i]);
    out += "} ";
    put_double(out, double(sums[i].sum_ns) / 1e9);
    out += "\nfasterapi_request_duration_seconds_count{";
    route_labels(out, slots[i]);
    out += "} ";
    put_uint(out, sums[i].count);
    out += '\n';
  }
}

void render_workers(std::string& out) {
  const int n = int(g_region->workers.get());
  uint64_t accepted = 0, closed = 0, received = 0, sent = 0, ring_sends = 0, ring_submits = 0;
  for (int w = 0; w < n; ++w) {
    const WorkerSlot& s = g_region->slots[w];
    accepted += s.accepted.get();
    closed += s.closed.get();
    received += s.bytes_received.get();
    sent += s.bytes_sent.get();
    ring_sends += s.ring_sends.get();
    ring_submits += s.ring_submits.get();
  }
  auto line = [&](const char* name, const char* type, const char* help, uint64_t v) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
    out += name;
    out += ' ';
    put_uint(out, v);
    out += '\n';
  };
  line("fasterapi_connections_accepted_total", "counter", "Connections accepted, all workers.", accepted);
  line("fasterapi_connections_open", "gauge", "Connections open now, all workers.", accepted - closed);
  line("fasterapi_received_bytes_total", "counter", "Bytes read from clients, all workers.", received);
  line("fasterapi_sent_bytes_total", "counter", "Bytes written to clients, all workers.", sent);
  line("fasterapi_io_uring_sends_total", "counter",
       "Responses' sends queued as io_uring SQEs (--loop io_uring; 0 on epoll), all workers.", ring_sends);
  line("fasterapi_io_uring_submits_total", "counter",
       "io_uring submissions (io_uring_enter) that carried the loop's SQEs, all workers.", ring_submits);
  line("fasterapi_worker_restarts_total", "counter", "Workers the supervisor started to replace one.",
       g_region->restarts.get());
  out += "# HELP fasterapi_worker_up 1 while the worker in this slot serves.\n# TYPE fasterapi_worker_up gauge\n";
  for (int w = 0; w < n; ++w) {
    const WorkerSlot& s = g_region->slots[w];
    if (!s.pid.get()) continue;  // a spare slot never used (two per worker: see _supervisor.py)
    out += "fasterapi_worker_up{worker=\"";
    put_uint(out, uint64_t(w));
    out += "\",pid=\"";
    put_uint(out, s.pid.get());
    out += "\"} ";
    put_uint(out, s.up.get());
    out += '\n';
  }
}

}  // namespace

bool create(int workers) {
  if (workers < 1 || workers > kMaxWorkers) return false;
  if (g_region) {  // a second server in this process: a fresh region
    g_slot = nullptr;
    munmap(g_region, region_bytes(int(g_region->workers.get())));
    g_region = nullptr;
  }
  // MAP_NORESERVE: the route slots of routes that never exist are never touched, so never backed.
  void* p =
      mmap(nullptr, region_bytes(workers), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return false;
  g_region = static_cast<Region*>(p);  // zero-filled by the kernel
  g_region->workers.set(uint64_t(workers));
  return true;
}

bool attach(int worker, std::string path) {
  if (!g_region && !create(1)) return false;
  if (worker < 0 || uint64_t(worker) >= g_region->workers.get()) return false;
  WorkerSlot& s = g_region->slots[worker];
  s.pid.set(uint64_t(getpid()));
  s.up.set(1);
  // A replaced worker's gauges: what it had in flight or open died with it.
  for (RouteCounters& r : s.routes) r.in_flight.set(0);
  s.closed.set(s.accepted.get());
  calibrate();
  g_path = std::move(path);
  g_slot = &s;
  return true;
}

void detach() {
  if (g_slot) g_slot->up.set(0);
  g_slot = nullptr;
}

void note_restart() {
  if (g_region) g_region->restarts.add(1);
}

void mark_down(int worker) {
  if (!g_region || worker < 0 || uint64_t(worker) >= g_region->workers.get()) return;
  WorkerSlot& s = g_region->slots[worker];
  s.up.set(0);
  s.closed.set(s.accepted.get());
  for (RouteCounters& r : s.routes) r.in_flight.set(0);
}

void note_route(int index, std::string_view methods, std::string_view path_template) {
  if (index < 0 || index >= kMaxRoutes) return;
  const std::lock_guard<std::mutex> hold(g_labels_mutex);
  if (g_labels.size() <= size_t(index)) g_labels.resize(size_t(index) + 1);
  g_labels[size_t(index)] = Label{std::string(methods), std::string(path_template)};
}

bool is_scrape(std::string_view path) { return path.size() == g_path.size() && path == g_path; }

void publish_server(uint64_t accepted, uint64_t closed, uint64_t bytes_received, uint64_t bytes_sent,
                    uint64_t ring_sends, uint64_t ring_submits) {
  if (!g_slot) return;
  // The slot may hold a previous worker's totals: add this worker's growth since the last copy.
  static thread_local uint64_t last[6] = {};
  const uint64_t now[6] = {accepted, closed, bytes_received, bytes_sent, ring_sends, ring_submits};
  Counter* dst[6] = {&g_slot->accepted,   &g_slot->closed,     &g_slot->bytes_received,
                     &g_slot->bytes_sent, &g_slot->ring_sends, &g_slot->ring_submits};
  for (int i = 0; i < 6; ++i) {
    if (now[i] >= last[i]) dst[i]->add(now[i] - last[i]);
    last[i] = now[i];
  }
}

void RequestTimer::begin(int route) {
  if (!g_slot) {
    slot_ = -1;
    return;
  }
  slot_ = route < 0 ? kAppSlot : route < kMaxRoutes ? route : kOtherSlot;
  g_slot->routes[slot_].in_flight.add(1);
  start_ = ticks();
}

void RequestTimer::end(int status) {
  if (slot_ < 0) return;
  const int slot = slot_;
  slot_ = -1;
  if (!g_slot) return;  // detached meanwhile
  RouteCounters& r = g_slot->routes[slot];
  r.in_flight.sub(1);
  if (status < 100 || status > 599) return;  // abandoned (the client went away): not a response
  const uint64_t elapsed = ticks() - start_;
  r.by_class[status / 100 - 1].add(1);
  r.buckets[bucket_of(elapsed)].add(1);
  r.sum_ns.add(uint64_t(double(elapsed) * g_ns_per_tick));
  r.count.add(1);
}

std::string render() {
  std::string out;
  if (!g_region) return out;
  out.reserve(4096);
  render_routes(out);
  render_workers(out);
  return out;
}

}  // namespace fasterapi::server::metrics
