// A build without liburing (CMake found no liburing-dev): epoll only; Config::io_uring fails with
// one line.
#include <stdexcept>

#include "server/loop.hpp"

namespace fasterapi::server {

struct Server::Ring {};

std::string uring_unavailable() {
  return "this build of FasterAPI has no io_uring: rebuild with liburing-dev installed (or use --loop epoll)";
}
void Server::RingDeleter::operator()(Ring* r) const { delete r; }
int Server::epoll_fd() const { return epfd_; }
void Server::ring_open() { throw std::runtime_error(uring_unavailable()); }
void Server::ring_listen(int) {}
void Server::ring_unlisten(int) {}
void Server::ring_adopt(Conn&) {}
void Server::ring_interest(Conn&) {}
void Server::ring_forget(Conn&) {}
void Server::ring_defer_flush(Conn&) {}
bool Server::ring_send(Conn&) { return true; }  // (never called: no ring, flush() sends)
void Server::ring_orphan(Conn&) {}
void Server::ring_watch(int) {}
void Server::ring_unwatch(int) {}
int Server::ring_poll(int) { return 0; }

}  // namespace fasterapi::server
