// A growable byte buffer with a read cursor: used for a connection's input and output.
// Bounded by its owner (the connection enforces limits); never shrinks below its reserve.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>

namespace fasterapi::http {

namespace detail {
struct Releaser {  // Buffer::attach's release(owner)
  void (*fn)(void*) = nullptr;
  void operator()(void* p) const {
    if (fn) fn(p);
  }
};
}  // namespace detail

class Buffer {
 public:
  Buffer() = default;

  const char* data() const { return buf_.get() + start_; }
  char* data() { return buf_.get() + start_; }
  size_t size() const { return end_ - start_; }  // the buffer's own bytes (not attached ones)
  bool empty() const { return start_ == end_ && !ext_owner_; }
  std::string_view view() const { return {data(), size()}; }

  // The status of the last response head written into this (output) buffer, set by the writers
  // of status lines: the connection reads it back when the response is complete (the metrics'
  // status class; a streamed head may be sent long before then). 0: none since the reset.
  int last_status = 0;

  // Writable tail of at least n bytes; call commit(k) after writing k <= n bytes.
  char* prepare(size_t n) {
    if (ext_owner_) materialize();  // bytes after attached ones: keep the order, copy them in
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
  void push_back(char c) {
    *prepare(1) = c;
    ++end_;
  }

  // Drop n bytes from the front (already consumed or sent); past the own bytes, attached ones.
  void consume(size_t n) {
    size_t own = end_ - start_;
    if (n < own || !ext_owner_) {
      start_ += n;
      if (start_ == end_) start_ = end_ = 0;
      return;
    }
    start_ = end_ = 0;
    ext_sent_ += n - own;
    if (ext_sent_ >= ext_size_) drop_attached();
  }
  // Drop bytes from the end (used when a response is rolled back).
  void truncate(size_t new_size) { end_ = start_ + new_size; }
  void clear() {
    start_ = end_ = 0;
    drop_attached();
  }

  // Zero-copy output: n bytes at p, owned elsewhere, follow the buffer's own bytes without being
  // copied; release(owner) is called once they are consumed, cleared, or copied in (appending
  // anything after them copies them into the buffer first, so the byte order always holds).
  // Writers send view() then attached() (e.g. one writev); consume() spans both.
  void attach(const char* p, size_t n, void (*release)(void*), void* owner) {
    if (ext_owner_) materialize();
    ext_data_ = p;
    ext_size_ = n;
    ext_sent_ = 0;
    ext_owner_ = std::unique_ptr<void, detail::Releaser>(owner, detail::Releaser{release});
  }
  std::string_view attached() const {
    return ext_owner_ ? std::string_view(ext_data_ + ext_sent_, ext_size_ - ext_sent_) : std::string_view();
  }
  // Copies attached bytes in (releasing them): do this before taking positions with size() that
  // later writes must keep valid.
  void materialize() {
    if (!ext_owner_) return;
    std::string_view a = attached();
    auto owner = std::move(ext_owner_);  // released when done
    drop_attached();
    if (cap_ - end_ < a.size()) grow(a.size());
    if (!a.empty()) std::memcpy(buf_.get() + end_, a.data(), a.size());
    end_ += a.size();
  }
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
      start_ = 0;
      end_ = live;
      return;
    }
    size_t ncap = std::max(cap_ * 2, live + n + 4096);
    std::unique_ptr<char[]> nb(new char[ncap]);  // uninitialised on purpose
    if (live) std::memcpy(nb.get(), buf_.get() + start_, live);
    buf_ = std::move(nb);
    cap_ = ncap;
    start_ = 0;
    end_ = live;
  }
  void drop_attached() {
    ext_owner_.reset();
    ext_data_ = nullptr;
    ext_size_ = ext_sent_ = 0;
  }
  std::unique_ptr<char[]> buf_;
  size_t cap_ = 0;
  size_t start_ = 0, end_ = 0;
  const char* ext_data_ = nullptr;
  size_t ext_size_ = 0, ext_sent_ = 0;
  std::unique_ptr<void, detail::Releaser> ext_owner_;
};

}  // namespace fasterapi::http
