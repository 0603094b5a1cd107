// A growable byte buffer with a read cursor: used for a connection's input and output.
// Bounded by its owner (the connection enforces limits); never shrinks below its reserve.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>

namespace fasterapi::http {

class Buffer {
 public:
  Buffer() = default;

  const char* data() const { return buf_.get() + start_; }
  char* data() { return buf_.get() + start_; }
  size_t size() const { return end_ - start_; }
  bool empty() const { return start_ == end_; }
  std::string_view view() const { return {data(), size()}; }

  // Writable tail of at least n bytes; call commit(k) after writing k <= n bytes.
  char* prepare(size_t n) {
    if (cap_ - end_ < n) grow(n);
    return buf_.get() + end_;
  }
  void commit(size_t n) { end_ += n; }

  void append(const char* p, size_t n) {
    if (n == 0) return;
    std::memcpy(prepare(n), p, n);
    end_ += n;
  }
  void append(std::string_view s) { append(s.data(), s.size()); }
  void push_back(char c) { *prepare(1) = c; ++end_; }

  // Drop n bytes from the front (already consumed or sent).
  void consume(size_t n) {
    start_ += n;
    if (start_ == end_) start_ = end_ = 0;
  }
  // Drop bytes from the end (used when a response is rolled back).
  void truncate(size_t new_size) { end_ = start_ + new_size; }
  void clear() { start_ = end_ = 0; }
  size_t capacity() const { return cap_; }
  // Give memory back after a burst (called when idle).
  void shrink(size_t keep) {
    if (empty() && cap_ > keep) {
      buf_.reset(new char[keep]);  // uninitialised on purpose: bytes are written before read
      cap_ = keep;
      start_ = end_ = 0;
    }
  }

 private:
  void grow(size_t n) {
    size_t live = end_ - start_;
    if (start_ > 0 && cap_ - live >= n && start_ >= live) {
      std::memmove(buf_.get(), buf_.get() + start_, live);  // compact instead of growing
      start_ = 0; end_ = live;
      return;
    }
    size_t ncap = std::max(cap_ * 2, live + n + 4096);
    std::unique_ptr<char[]> nb(new char[ncap]);  // uninitialised on purpose
    if (live) std::memcpy(nb.get(), buf_.get() + start_, live);
    buf_ = std::move(nb);
    cap_ = ncap;
    start_ = 0; end_ = live;
  }
  std::unique_ptr<char[]> buf_;
  size_t cap_ = 0;
  size_t start_ = 0, end_ = 0;
};

}  // namespace fasterapi::http
