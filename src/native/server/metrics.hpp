// Prometheus metrics kept in C++ (no Python): per-route request counters and latency histograms,
// per-worker connection and byte counters, in a memory region shared by every worker process.
//
// The supervisor maps the region (MAP_SHARED | MAP_ANONYMOUS) before it forks its workers, so all
// of them see the same pages; worker k writes only slot k, and a scrape, answered by any worker,
// sums every slot. Each worker is one loop thread, so a slot has exactly one writer: counters are
// relaxed atomic load + store (no locked read-modify-write on the fast path); the atomics only make
// the other processes' concurrent reads well defined.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fasterapi::server::metrics {

// Latency buckets (seconds, Prometheus' client default set): "le" upper bounds; +Inf is implicit.
inline constexpr double kBucketBounds[] = {0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25,
                                           0.5,   0.75, 1.0,   2.5,  5.0,   7.5, 10.0};
inline constexpr int kBuckets = int(sizeof kBucketBounds / sizeof kBucketBounds[0]) + 1;  // + (+Inf)
// Compiled routes have their own series up to this many; the rest share the "(other)" series.
inline constexpr int kMaxRoutes = 1022;
inline constexpr int kAppSlot = kMaxRoutes;        // no compiled route matched: the ASGI app answered
inline constexpr int kOtherSlot = kMaxRoutes + 1;  // a compiled route past kMaxRoutes
inline constexpr int kRouteSlots = kMaxRoutes + 2;
inline constexpr int kMaxWorkers = 1024;

struct Counter {
  std::atomic<uint64_t> v{0};
  // Only the slot's own worker writes: load + store, not fetch_add (no lock prefix).
  void add(uint64_t n) { v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void sub(uint64_t n) { v.store(v.load(std::memory_order_relaxed) - n, std::memory_order_relaxed); }
  void set(uint64_t n) { v.store(n, std::memory_order_relaxed); }
  uint64_t get() const { return v.load(std::memory_order_relaxed); }
};

struct RouteCounters {
  Counter by_class[5];  // 1xx .. 5xx
  Counter in_flight;
  Counter buckets[kBuckets];  // per bucket (not cumulative: the scrape accumulates)
  Counter sum_ns;
  Counter count;
};

struct WorkerSlot {
  Counter pid;  // 0: never started
  Counter up;   // 1 while the worker serves
  Counter accepted, closed, bytes_received, bytes_sent;
  Counter ring_sends, ring_submits;  // io_uring: send SQEs, and the submissions that carried them
  RouteCounters routes[kRouteSlots];
};

struct Region {
  Counter workers;
  Counter restarts;     // written by the supervisor only
  WorkerSlot slots[1];  // `workers` of them
};

// ---- process-wide state (one loop thread per worker process) ----

// The supervisor, before forking: a shared region with `workers` slots. False (errno) on failure.
bool create(int workers);
// A worker (or the single process): take slot `worker` and answer scrapes at `path`. Creates a
// one-slot private region first when none was inherited. Gauges of a previous owner are reset.
bool attach(int worker, std::string path);
// Stop counting and answering scrapes (the slot keeps its totals).
void detach();
// The supervisor: a worker was replaced.
void note_restart();
// A worker left: its slot's gauges and up go to 0 (called by the supervisor with the slot).
void mark_down(int worker);

// The label of a compiled route (its index in the engine), as the router knows it.
void note_route(int index, std::string_view methods, std::string_view path_template);

extern WorkerSlot* g_slot;  // null: metrics off (the only test on the fast path)
inline bool enabled() { return g_slot != nullptr; }
// The request's path (the target before '?', not decoded) is the metrics path.
bool is_scrape(std::string_view path);

// The socket loop's own totals, copied into the slot (at each sweep and before a scrape).
void publish_server(uint64_t accepted, uint64_t closed, uint64_t bytes_received, uint64_t bytes_sent,
                    uint64_t ring_sends, uint64_t ring_submits);

// One request's measurement, kept by its connection's dispatcher: begin() at dispatch, end() when
// the response is complete (or abandoned: status 0, only in_flight is undone).
class RequestTimer {
 public:
  void begin(int route);
  void end(int status);

 private:
  int slot_ = -1;
  uint64_t start_ = 0;  // clock ticks (metrics.cpp)
};

// The Prometheus text exposition (format 0.0.4) of the whole region.
std::string render();
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace fasterapi::server::metrics
