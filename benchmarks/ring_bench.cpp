// ns per item through the lock-free rings (server/ring.hpp) vs a mutex + condition_variable queue,
// 1 producer -> 1 consumer and N producers -> 1 consumer. Built and run by benchmarks/ring.py.
//   ring_bench [items] [producers] [repeats]   -> one JSON object per line
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>
#include <algorithm>
#include <atomic>

#include "server/ring.hpp"

using namespace fasterapi::server;
using Clock = std::chrono::steady_clock;

// The classic blocking queue: what the rings replace. Bounded like the rings (producers wait on
// a second condition variable when it is full).
template <class T>
class LockedQueue {
 public:
  explicit LockedQueue(size_t cap) : cap_(cap) {}
  void push(T v) {
    {
      std::unique_lock<std::mutex> g(m_);
      not_full_.wait(g, [&] { return q_.size() < cap_; });
      q_.push_back(v);
    }
    not_empty_.notify_one();
  }
  T pop() {
    T v;
    {
      std::unique_lock<std::mutex> g(m_);
      not_empty_.wait(g, [&] { return !q_.empty(); });
      v = q_.front();
      q_.pop_front();
    }
    not_full_.notify_one();
    return v;
  }

 private:
  size_t cap_;
  std::mutex m_;
  std::condition_variable not_empty_, not_full_;
  std::deque<T> q_;
};

template <class Push, class Pop>
double run(uint64_t items, int producers, Push push, Pop pop) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  uint64_t per = items / uint64_t(producers);
  std::vector<std::thread> ts;
  for (int p = 0; p < producers; ++p)
    ts.emplace_back([&, p] {
      ready.fetch_add(1);
      while (!go.load()) {}
      for (uint64_t i = 0; i < per; ++i) push((uint64_t(p) << 40) | (i + 1));
    });
  while (ready.load() < producers) {}
  auto t0 = Clock::now();
  go.store(true);
  uint64_t sum = 0, total = per * uint64_t(producers);
  for (uint64_t i = 0; i < total; ++i) sum += pop();
  auto t1 = Clock::now();
  for (auto& t : ts) t.join();
  if (sum == 0) std::fprintf(stderr, "?");
  return std::chrono::duration<double, std::nano>(t1 - t0).count() / double(total);
}

static double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int main(int argc, char** argv) {
  uint64_t items = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2000000;
  int nprod = argc > 2 ? std::atoi(argv[2]) : 4;
  int repeats = argc > 3 ? std::atoi(argv[3]) : 5;
  // Busy-wait a little (pause), then give the core away: on a loaded 2-core box the other side
  // may be waiting for this very core.
  auto backoff = [](int& k) {
    if (++k < 64) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    } else {
      k = 0;
      std::this_thread::yield();
    }
  };
  auto spin_push = [&](auto& r, uint64_t v) {
    for (int k = 0; !r.push(uint64_t(v));) backoff(k);
  };
  auto spin_pop = [&](auto& r) {
    for (int k = 0;;) {
      if (auto v = r.pop()) return *v;
      backoff(k);
    }
  };
  for (int producers : {1, nprod}) {
    std::vector<double> spsc, mpsc, locked;
    for (int k = 0; k < repeats; ++k) {
      if (producers == 1) {
        SpscRing<uint64_t> r(4096);
        spsc.push_back(run(items, 1, [&](uint64_t v) { spin_push(r, v); }, [&] { return spin_pop(r); }));
      }
      {
        MpscRing<uint64_t> r(4096);
        mpsc.push_back(run(items, producers, [&](uint64_t v) { spin_push(r, v); }, [&] { return spin_pop(r); }));
      }
      {
        LockedQueue<uint64_t> q(4096);
        locked.push_back(run(items, producers, [&](uint64_t v) { q.push(v); }, [&] { return q.pop(); }));
      }
    }
    if (!spsc.empty())
      std::printf("{\"queue\": \"spsc_ring\", \"producers\": 1, \"ns_per_item\": %.2f}\n", median(spsc));
    std::printf("{\"queue\": \"mpsc_ring\", \"producers\": %d, \"ns_per_item\": %.2f}\n", producers, median(mpsc));
    std::printf("{\"queue\": \"mutex_condvar\", \"producers\": %d, \"ns_per_item\": %.2f}\n", producers, median(locked));
    std::fflush(stdout);
  }
  return 0;
}
