// A pool of worker threads fed by one loop thread through lock-free rings, with the results
// coming back through an MPSC ring and an eventfd the loop watches (epoll):
//
//   loop thread ──submit──► SpscRing per worker ──► worker i runs task.run(task.arg, i)
//   loop thread ◄─drain──── MpscRing<Done> ◄────────┘  (+ one eventfd write per wake-up)
//
// No Python here: the bridge's tasks take the GIL themselves. submit() and drain() belong to the
// one loop thread that owns the pool. A task goes to the worker with the fewest unfinished tasks;
// when every ring is full (or the results ring could fill) it waits in a local queue until
// drain() makes room, so neither ring ever overflows.
#pragma once
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "server/ring.hpp"

namespace fasterapi::server {

struct Task {
  void (*run)(void* arg, int worker) = nullptr;
  void* arg = nullptr;
};

struct PoolHooks {
  std::function<void(int worker)> on_start;  // on the worker thread, before its first task
  std::function<void(int worker)> on_stop;   // on the worker thread, after its last task
  // Around a run of consecutive tasks (at most max_run) found in the worker's ring without it
  // going empty: e.g. take a lock (the GIL) once for several tasks.
  std::function<void(int worker)> enter, leave;
  int max_run = 16;
};

class WorkerPool {
 public:
  using Hooks = PoolHooks;

  WorkerPool(int threads, size_t ring_capacity = 1024, Hooks hooks = {})
      : hooks_(std::move(hooks)),
        done_(size_t(threads < 1 ? 1 : threads) * (ring_capacity + 1)),
        max_outstanding_(done_.capacity()) {
    int n = threads < 1 ? 1 : threads;
    efd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd_ < 0) throw std::runtime_error(std::string("eventfd: ") + strerror(errno));
    workers_.reserve(size_t(n));
    for (int i = 0; i < n; ++i) workers_.push_back(std::make_unique<Worker>(ring_capacity));
    for (int i = 0; i < n; ++i) workers_[size_t(i)]->thread = std::thread([this, i] { run(i); });
  }
  ~WorkerPool() {
    stop();
    if (efd_ >= 0) ::close(efd_);
  }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  int threads() const { return int(workers_.size()); }
  int fd() const { return efd_; }                      // readable when results wait for drain()
  size_t outstanding() const { return outstanding_; }  // submitted, not yet drained

  // Loop thread. Never blocks.
  void submit(Task t) {
    if (!spill_.empty() || !place(t)) spill_.push_back(t);
  }

  // Loop thread: f(arg) for every finished task, in completion order. Returns how many.
  template <class F>
  size_t drain(F&& f) {
    uint64_t junk;
    while (::read(efd_, &junk, sizeof junk) < 0 && errno == EINTR) {}
    signaled_.exchange(false, std::memory_order_acq_rel);  // pairs with the workers' exchange
    size_t n = 0;
    while (auto d = done_.pop()) {
      --workers_[size_t(d->worker)]->owed;
      --outstanding_;
      ++n;
      f(d->arg);
      while (!spill_.empty() && place(spill_.front())) spill_.pop_front();
    }
    return n;
  }

  // Stop the workers (tasks not yet started are dropped, unrun) and join them.
  void stop() {
    if (stopped_) return;
    stopped_ = true;
    stopping_.store(true, std::memory_order_seq_cst);
    for (auto& w : workers_) wake(*w, /*force=*/true);
    for (auto& w : workers_)
      if (w->thread.joinable()) w->thread.join();
  }

 private:
  struct Done {
    void* arg;
    int worker;
  };
  struct Worker {
    explicit Worker(size_t cap) : ring(cap) {}
    SpscRing<Task> ring;
    alignas(kCacheLine) std::atomic<uint32_t> epoch{0};
    std::atomic<bool> sleeping{false};
    std::atomic<uint64_t> busy_since{0};  // when the running task started (0: none); a hint
    std::atomic<uint64_t> last_ns{0};     // how long its last task took (0: none yet); a hint
    alignas(kCacheLine) size_t owed = 0;  // loop thread's count of this worker's unfinished tasks
    std::thread thread;
  };

  static constexpr size_t kQueueBehind = 16;
  static constexpr uint64_t kQueueBudgetNs = 500000;  // 0.5 ms
  static uint64_t mono_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
  }

  bool place(Task t) {
    if (outstanding_ >= max_outstanding_) return false;
    // Warm threads first: the lowest-index worker that is idle, or whose queue is expected to clear
    // within kQueueBudgetNs (its unfinished tasks times its last task's duration, at most
    // kQueueBehind tasks) and whose current task started less than kQueueBudgetNs ago (never
    // queue behind a task that is or may be slow); else the least-loaded one. Quick work stays on a
    // few warm threads (fewer wake-ups and lock hand-offs, tasks run back to back); slow work
    // spreads over all of them.
    size_t n = workers_.size(), best = n;
    uint64_t now = 0;
    for (size_t i = 0; i < n; ++i) {
      Worker& w = *workers_[i];
      if (w.owed == 0) {
        best = i;
        break;
      }
      uint64_t last = w.last_ns.load(std::memory_order_relaxed);
      if (w.owed < kQueueBehind && last && w.owed * last < kQueueBudgetNs) {
        if (!now) now = mono_ns();
        uint64_t since = w.busy_since.load(std::memory_order_relaxed);
        if (!since || now - since < kQueueBudgetNs) {
          best = i;
          break;
        }  // (0: between tasks)
      }
    }
    if (best == n) {
      best = 0;
      for (size_t i = 1; i < n; ++i)
        if (workers_[i]->owed < workers_[best]->owed) best = i;
    }
    for (size_t k = 0; k < n; ++k) {
      size_t i = (best + k) % n;
      Worker& w = *workers_[i];
      if (w.ring.push(Task(t))) {
        ++w.owed;
        ++outstanding_;
        wake(w, false);
        return true;
      }
    }
    return false;
  }

  // The epoch is the gate both sides pass with an RMW: if the worker passed it first, we see it
  // asleep and notify; if we passed first, the worker sees the task when it re-checks its ring.
  // (RMWs on one atomic rather than fences: ThreadSanitizer understands these.)
  static void wake(Worker& w, bool force) {
    w.epoch.fetch_add(1, std::memory_order_acq_rel);
    if (force || w.sleeping.load(std::memory_order_relaxed)) w.epoch.notify_one();
  }

  void run(int i) {
    Worker& w = *workers_[size_t(i)];
    if (hooks_.on_start) hooks_.on_start(i);
    int run = 0;  // tasks since enter()
    auto leave = [&] {
      if (run && hooks_.leave) hooks_.leave(i);
      run = 0;
    };
    for (;;) {
      auto t = w.ring.pop();
      if (!t) {
        leave();
        if (stopping_.load(std::memory_order_acquire)) break;
        w.sleeping.store(true, std::memory_order_relaxed);
        uint32_t e = w.epoch.fetch_add(0, std::memory_order_acq_rel);
        if (w.ring.empty() && !stopping_.load(std::memory_order_acquire)) w.epoch.wait(e, std::memory_order_acquire);
        w.sleeping.store(false, std::memory_order_relaxed);
        continue;
      }
      if (stopping_.load(std::memory_order_acquire)) break;
      if (run == hooks_.max_run) leave();
      if (run++ == 0 && hooks_.enter) hooks_.enter(i);
      uint64_t t0 = mono_ns();
      w.busy_since.store(t0, std::memory_order_relaxed);
      t->run(t->arg, i);
      w.last_ns.store(std::max<uint64_t>(1, mono_ns() - t0), std::memory_order_relaxed);
      w.busy_since.store(0, std::memory_order_relaxed);
      Done d{t->arg, i};
      while (!done_.push(Done(d))) std::this_thread::yield();  // cannot fill (see place()); be safe
      if (!signaled_.exchange(true, std::memory_order_acq_rel)) {
        uint64_t one = 1;
        while (::write(efd_, &one, sizeof one) < 0 && errno == EINTR) {}
      }
    }
    leave();
    if (hooks_.on_stop) hooks_.on_stop(i);
  }

  Hooks hooks_;
  MpscRing<Done> done_;
  const size_t max_outstanding_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::deque<Task> spill_;  // loop thread only
  size_t outstanding_ = 0;  // loop thread only
  int efd_ = -1;
  bool stopped_ = false;
  alignas(kCacheLine) std::atomic<bool> signaled_{false};
  std::atomic<bool> stopping_{false};
};

}  // namespace fasterapi::server
