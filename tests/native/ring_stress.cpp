// Stress test for server/ring.hpp and server/pool.hpp: every item must arrive exactly once (and in
// order per producer). Built by tests/native/test_ring.py, plainly and under -fsanitize=thread.
//   ring_stress [items_per_producer] [producers]
#include <poll.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

#include "server/pool.hpp"
#include "server/ring.hpp"

using fasterapi::server::MpscRing;
using fasterapi::server::SpscRing;
using fasterapi::server::Task;
using fasterapi::server::WorkerPool;

static int failures = 0;
#define CHECK(cond, ...)                                        \
  do {                                                          \
    if (!(cond)) {                                              \
      std::fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      std::fprintf(stderr, __VA_ARGS__);                        \
      std::fprintf(stderr, "\n");                               \
      ++failures;                                               \
      return;                                                   \
    }                                                           \
  } while (0)

// A value that owns memory: a lost or doubled move shows up as a leak or a double free (ASan/TSan).
struct Item {
  std::unique_ptr<uint64_t> v;
};

static void spsc(uint64_t n, size_t cap) {
  SpscRing<Item> ring(cap);
  std::thread prod([&] {
    for (uint64_t i = 0; i < n; ++i) {
      Item it{std::make_unique<uint64_t>(i)};
      while (!ring.push(std::move(it))) std::this_thread::yield();
    }
  });
  uint64_t expect = 0;
  while (expect < n) {
    auto it = ring.pop();
    if (!it) {
      std::this_thread::yield();
      continue;
    }
    if (*it->v != expect) {
      prod.join();
      CHECK(false, "spsc: got %llu, expected %llu", (unsigned long long)*it->v, (unsigned long long)expect);
    }
    ++expect;
  }
  prod.join();
  CHECK(!ring.pop(), "spsc: an extra item after the last");
  std::printf("spsc cap=%zu items=%llu ok\n", cap, (unsigned long long)n);
}

static void mpsc(uint64_t n, int producers, size_t cap) {
  MpscRing<Item> ring(cap);
  std::vector<std::thread> ts;
  std::atomic<int> go{0};
  for (int p = 0; p < producers; ++p)
    ts.emplace_back([&, p] {
      go.fetch_add(1);
      while (go.load() < producers) {}
      for (uint64_t i = 0; i < n; ++i) {
        Item it{std::make_unique<uint64_t>((uint64_t(p) << 40) | i)};
        while (!ring.push(std::move(it))) std::this_thread::yield();
      }
    });
  std::vector<uint64_t> next(size_t(producers), 0);
  uint64_t total = 0, want = n * uint64_t(producers);
  bool bad = false;
  while (total < want) {
    auto it = ring.pop();
    if (!it) {
      std::this_thread::yield();
      continue;
    }
    uint64_t v = *it->v;
    size_t p = size_t(v >> 40);
    uint64_t i = v & ((uint64_t(1) << 40) - 1);
    if (p >= next.size() || next[p] != i) {
      if (!bad)
        std::fprintf(stderr, "mpsc: producer %zu item %llu out of order/duplicated (expected %llu)\n", p,
                     (unsigned long long)i, (unsigned long long)(p < next.size() ? next[p] : 0));
      bad = true;
      break;
    }
    ++next[p];
    ++total;
  }
  for (auto& t : ts) t.join();
  CHECK(!bad, "mpsc order");
  CHECK(!ring.pop(), "mpsc: an extra item after the last");
  std::printf("mpsc producers=%d cap=%zu items=%llu ok\n", producers, cap, (unsigned long long)want);
}

struct PoolArg {
  std::atomic<int> runs{0};
  int drained = 0;
};

static void pool(uint64_t n, int threads, size_t cap, bool say = true) {
  std::atomic<int> started{0}, stopped{0};
  WorkerPool::Hooks hooks{[&](int) { started.fetch_add(1); }, [&](int) { stopped.fetch_add(1); }};
  std::vector<PoolArg> args(n);
  {
    WorkerPool pool(threads, cap, hooks);
    Task t;
    t.run = [](void* a, int) { static_cast<PoolArg*>(a)->runs.fetch_add(1, std::memory_order_relaxed); };
    uint64_t submitted = 0, drained = 0;
    bool bad = false;
    auto on_done = [&](void* a) {
      auto* pa = static_cast<PoolArg*>(a);
      if (pa->runs.load(std::memory_order_relaxed) != 1 || pa->drained++ != 0) bad = true;
      ++drained;
    };
    while (drained < n) {
      // Bursts of submissions between drains, as a loop thread does.
      for (int k = 0; k < 700 && submitted < n; ++k) {
        t.arg = &args[submitted++];
        pool.submit(t);
      }
      pollfd p{pool.fd(), POLLIN, 0};
      ::poll(&p, 1, submitted < n ? 0 : 100);
      pool.drain(on_done);
    }
    CHECK(!bad, "pool: a task ran or came back more than once");
    CHECK(pool.outstanding() == 0, "pool: outstanding %zu", pool.outstanding());
  }
  CHECK(started.load() == threads && stopped.load() == threads, "pool hooks %d/%d", started.load(), stopped.load());
  for (auto& a : args) CHECK(a.runs.load() == 1 && a.drained == 1, "pool: a task lost");
  if (say) std::printf("pool threads=%d cap=%zu tasks=%llu ok\n", threads, cap, (unsigned long long)n);
}

int main(int argc, char** argv) {
  uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;
  int producers = argc > 2 ? std::atoi(argv[2]) : 4;
  spsc(n, 2);
  spsc(n, 1024);
  mpsc(n / 4, producers, 2);
  mpsc(n, producers, 1024);
  mpsc(n / 4, producers * 2, 64);
  pool(n / 4, 3, 4);
  pool(n / 2, 2, 1024);
  // Start/stop churn: threads that park and are woken for stop.
  for (int i = 0; i < 50; ++i) pool(10, 4, 8, false);
  std::printf("pool start/stop x50 ok\n");
  if (failures) {
    std::fprintf(stderr, "%d failure(s)\n", failures);
    return 1;
  }
  std::printf("all ok\n");
  return 0;
}
