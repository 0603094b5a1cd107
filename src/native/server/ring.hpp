// Bounded lock-free rings for work that crosses threads (no Python, no allocation after
// construction).
//
//   SpscRing<T>  one producer thread, one consumer thread. Head and tail live on their own cache
//                lines; each side keeps a cached copy of the other side's index so the shared line
//                is read only when the ring looks full (producer) or empty (consumer).
//   MpscRing<T>  any number of producer threads, one consumer thread (tail and head padded; the
//                slots packed, so the consumer reads several per cache line). Every slot carries a
//                sequence number: a producer claims a position with a CAS on the tail, writes the
//                value, then publishes the slot by storing its sequence (release); the consumer
//                reads the sequence (acquire) to know the value is there.
//
// Both are bounded: push() returns false when the ring is full (the caller decides: retry, spill
// to a local queue, refuse). Capacity is rounded up to a power of two.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

namespace fasterapi::server {

inline constexpr size_t kCacheLine = 64;

inline size_t ring_capacity(size_t n) {
  size_t c = 2;
  while (c < n) c <<= 1;
  return c;
}

template <class T>
class SpscRing {
  static_assert(std::is_nothrow_move_constructible_v<T>);

 public:
  explicit SpscRing(size_t capacity) : mask_(ring_capacity(capacity) - 1), slots_(new Slot[mask_ + 1]) {}
  ~SpscRing() {
    while (pop()) {}
  }
  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;

  size_t capacity() const { return mask_ + 1; }

  // Producer thread only.
  bool push(T&& v) {
    size_t t = tail_.v.load(std::memory_order_relaxed);
    if (t - head_cache_ > mask_) {
      head_cache_ = head_.v.load(std::memory_order_acquire);
      if (t - head_cache_ > mask_) return false;
    }
    new (slots_[t & mask_].ptr()) T(std::move(v));
    tail_.v.store(t + 1, std::memory_order_release);
    return true;
  }

  // Consumer thread only.
  std::optional<T> pop() {
    size_t h = head_.v.load(std::memory_order_relaxed);
    if (h == tail_cache_) {
      tail_cache_ = tail_.v.load(std::memory_order_acquire);
      if (h == tail_cache_) return std::nullopt;
    }
    T* p = slots_[h & mask_].ptr();
    std::optional<T> out(std::move(*p));
    p->~T();
    head_.v.store(h + 1, std::memory_order_release);
    return out;
  }

  // Either side (a snapshot).
  bool empty() const { return head_.v.load(std::memory_order_acquire) == tail_.v.load(std::memory_order_acquire); }
  size_t size() const { return tail_.v.load(std::memory_order_acquire) - head_.v.load(std::memory_order_acquire); }

 private:
  struct Slot {
    alignas(T) unsigned char bytes[sizeof(T)];
    T* ptr() { return std::launder(reinterpret_cast<T*>(bytes)); }
  };
  struct alignas(kCacheLine) Index {
    std::atomic<size_t> v{0};
  };

  const size_t mask_;
  std::unique_ptr<Slot[]> slots_;
  Index head_;                                 // written by the consumer
  alignas(kCacheLine) size_t tail_cache_ = 0;  // consumer's copy of tail_
  Index tail_;                                 // written by the producer
  alignas(kCacheLine) size_t head_cache_ = 0;  // producer's copy of head_
};

template <class T>
class MpscRing {
  static_assert(std::is_nothrow_move_constructible_v<T>);

 public:
  explicit MpscRing(size_t capacity) : mask_(ring_capacity(capacity) - 1), slots_(new Slot[mask_ + 1]) {
    for (size_t i = 0; i <= mask_; ++i) slots_[i].seq.store(i, std::memory_order_relaxed);
  }
  ~MpscRing() {
    while (pop()) {}
  }
  MpscRing(const MpscRing&) = delete;
  MpscRing& operator=(const MpscRing&) = delete;

  size_t capacity() const { return mask_ + 1; }

  // Any thread.
  bool push(T&& v) {
    size_t t = tail_.v.load(std::memory_order_relaxed);
    for (;;) {
      Slot& s = slots_[t & mask_];
      size_t seq = s.seq.load(std::memory_order_acquire);
      intptr_t diff = intptr_t(seq) - intptr_t(t);
      if (diff == 0) {
        // The slot is free for position t: claim t.
        if (tail_.v.compare_exchange_weak(t, t + 1, std::memory_order_relaxed)) {
          new (s.ptr()) T(std::move(v));
          s.seq.store(t + 1, std::memory_order_release);  // publish
          return true;
        }
        // t was reloaded by the failed CAS
      } else if (diff < 0) {
        return false;  // the slot still holds the value from one lap ago: full
      } else {
        t = tail_.v.load(std::memory_order_relaxed);  // another producer took t
      }
    }
  }

  // The consumer thread only.
  std::optional<T> pop() {
    size_t h = head_;
    Slot& s = slots_[h & mask_];
    if (s.seq.load(std::memory_order_acquire) != h + 1) return std::nullopt;  // empty or not yet published
    std::optional<T> out(std::move(*s.ptr()));
    s.ptr()->~T();
    s.seq.store(h + mask_ + 1, std::memory_order_release);  // free for the next lap
    head_ = h + 1;
    return out;
  }

 private:
  struct Slot {
    std::atomic<size_t> seq;
    alignas(T) unsigned char bytes[sizeof(T)];
    T* ptr() { return std::launder(reinterpret_cast<T*>(bytes)); }
  };
  struct alignas(kCacheLine) Index {
    std::atomic<size_t> v{0};
  };

  const size_t mask_;
  std::unique_ptr<Slot[]> slots_;
  Index tail_;                           // claimed by producers
  alignas(kCacheLine) size_t head_ = 0;  // the consumer's own
};

}  // namespace fasterapi::server
