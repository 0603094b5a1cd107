// Performance switches, counters and the stage clock of the engine (docs/performance.md).
#pragma once
#include <time.h>

#include <atomic>
#include <cstdint>
#include <new>
#include <string>
#include <string_view>

#include "bridge/state.hpp"

namespace fasterapi::bridge {

// How requests were served (engine.stats).
struct PerfCounters {
  uint64_t fast_path = 0;     // fast-plan endpoint vectorcalls
  uint64_t python_path = 0;   // Python handler calls (route handler or app_handler)
  uint64_t request_data = 0;  // RequestData objects made
  uint64_t static_hits = 0;   // constant-route responses replayed
  uint64_t native_calls = 0;  // native (C ABI) handler calls
};

// A direct-mapped cache of converted fast-path parameter values (str/int/float objects keyed by
// their raw text): a hit replaces an allocation and a decode with a compare and an incref.
class ParamPool {
 public:
  static constexpr size_t kSlots = 256;
  static constexpr size_t kMaxKey = 32;
  // New reference to the cached object for (kind, raw), or nullptr.
  PyObject* get(int kind, std::string_view raw) const {
    if (raw.size() > kMaxKey) return nullptr;
    const Slot& s = slots_[index(kind, raw)];
    if (s.value && s.kind == kind && s.len == raw.size() &&
        std::char_traits<char>::compare(s.key, raw.data(), raw.size()) == 0)
      return Py_NewRef(s.value);
    return nullptr;
  }
  void put(int kind, std::string_view raw, PyObject* value) {
    if (raw.size() > kMaxKey) return;
    Slot& s = slots_[index(kind, raw)];
    Py_XSETREF(s.value, Py_NewRef(value));
    s.kind = kind;
    s.len = uint8_t(raw.size());
    std::char_traits<char>::copy(s.key, raw.data(), raw.size());
  }
  void clear() {
    for (Slot& s : slots_) Py_CLEAR(s.value);
  }

 private:
  struct Slot {
    PyObject* value = nullptr;
    int kind = 0;
    uint8_t len = 0;
    char key[kMaxKey];
  };
  static size_t index(int kind, std::string_view raw) {
    uint64_t h = 1469598103934665603ull ^ uint64_t(kind);
    for (char c : raw) h = (h ^ uint8_t(c)) * 1099511628211ull;
    return size_t(h ^ (h >> 29)) & (kSlots - 1);
  }
  Slot slots_[kSlots];
};

struct PerfState {
  int64_t zero_copy_min = -1;  // bytes/str Response bodies at least this long are referenced, not copied (-1: off)
  bool pool_params = false;    // ParamPool on the fast path
  ParamPool pool;
  PerfCounters counters;
};

#ifdef FASTERAPI_BENCH
// Stage clock for bench_stages: when set (benchmarks only), the request path stamps these.
enum Stage { kRouteStart, kRouteEnd, kHandleStart, kCallStart, kCallEnd, kHandleEnd, kStages };
struct StageMarks {
  uint64_t t[kStages];
};
extern thread_local StageMarks* t_stage_marks;

inline void stage_mark(Stage s) {
  if (StageMarks* m = t_stage_marks) {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    m->t[s] = uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
  }
}

// _core._fail_allocations(n) (bench build only): the next n requests the engine serves fail with
// std::bad_alloc where the dispatcher starts them, as a real allocation failure there would.
extern std::atomic<int> g_injected_allocation_failures;
inline void fail_allocation_if_injected() {
  if (g_injected_allocation_failures.load(std::memory_order_relaxed) > 0 &&
      g_injected_allocation_failures.fetch_sub(1, std::memory_order_relaxed) > 0)
    throw std::bad_alloc();
}
#else
// The production module has no stage clock and no fault injection: these compile to nothing.
enum Stage { kRouteStart, kRouteEnd, kHandleStart, kCallStart, kCallEnd, kHandleEnd, kStages };
inline void stage_mark(Stage) {}
inline void fail_allocation_if_injected() {}
#endif

}  // namespace fasterapi::bridge
