// The floor: the least an HTTP/1.1 server on this kernel can spend per small keep-alive request.
// One thread; for each request head read (counted by its blank line, nothing parsed, nothing
// routed) it sends one canned response, the same bytes FasterAPI sends for GET /json.
//   epoll     one recv and one send per request, as nginx and FasterAPI's epoll loop do;
//   io_uring  multishot accept and receive (provided buffers), sends as SQEs, one
//             io_uring_submit_and_wait per tick, as FasterAPI's io_uring loop does.
// The CPU it takes per request is what the kernel's TCP stack and the syscalls cost with no server
// around them: the bound under any server's CPU per request here (benchmarks/README.md "The floor").
//
//   g++ -O2 -std=c++20 -o /tmp/floor_server benchmarks/floor_server.cpp -luring
//   taskset -c 0 /tmp/floor_server PORT [epoll|io_uring]
#include <arpa/inet.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

const char kBody[] = "{\"message\":\"Hello, World!\"}";

std::string canned_response() {
  std::string r = "HTTP/1.1 200 OK\r\nDate: Sun, 06 Dec 2026 12:00:00 GMT\r\nServer: fasterapi\r\n";
  r += "Content-Type: application/json\r\nContent-Length: " + std::to_string(sizeof(kBody) - 1) + "\r\n\r\n";
  return r + kBody;
}

// Complete request heads in `buf` (each ends with a blank line; GETs only, no bodies), consumed.
int take_heads(std::string& buf) {
  int n = 0;
  size_t start = 0, end;
  while ((end = buf.find("\r\n\r\n", start)) != std::string::npos) {
    ++n;
    start = end + 4;
  }
  buf.erase(0, start);
  return n;
}

int listen_on(int port) {
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 || listen(lfd, 1024) < 0) {
    std::perror("bind/listen");
    std::exit(1);
  }
  return lfd;
}

// user_data: the operation in the top byte, the fd below
enum Op : uint64_t { kAccept = 1, kRecv = 2, kSend = 3 };
uint64_t ud(Op op, int fd) { return (uint64_t(op) << 56) | uint32_t(fd); }

int serve_uring(int lfd, const std::string& response) {
  constexpr unsigned kBufs = 1024, kBufSize = 4096, kGroup = 0;
  io_uring ring;
  io_uring_params p{};
  p.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  if (int rc = io_uring_queue_init_params(4096, &ring, &p); rc < 0) {
    std::fprintf(stderr, "io_uring_setup: %s\n", std::strerror(-rc));
    return 1;
  }
  void* mem = mmap(nullptr, kBufs * sizeof(io_uring_buf), PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  auto* br = static_cast<io_uring_buf_ring*>(mem);
  io_uring_buf_ring_init(br);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(mem);
  reg.ring_entries = kBufs;
  reg.bgid = kGroup;
  if (int rc = io_uring_register_buf_ring(&ring, &reg, 0); rc < 0) {
    std::fprintf(stderr, "io_uring_register_buf_ring: %s\n", std::strerror(-rc));
    return 1;
  }
  std::vector<char> bufs(size_t(kBufs) * kBufSize);
  for (unsigned i = 0; i < kBufs; ++i)
    io_uring_buf_ring_add(br, &bufs[size_t(i) * kBufSize], kBufSize, uint16_t(i), io_uring_buf_ring_mask(kBufs),
                          int(i));
  io_uring_buf_ring_advance(br, kBufs);
  auto arm_recv = [&](int fd) {
    io_uring_sqe* s = io_uring_get_sqe(&ring);
    io_uring_prep_recv_multishot(s, fd, nullptr, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = kGroup;
    io_uring_sqe_set_data64(s, ud(kRecv, fd));
  };
  io_uring_sqe* s = io_uring_get_sqe(&ring);
  io_uring_prep_multishot_accept(s, lfd, nullptr, nullptr, SOCK_NONBLOCK);
  io_uring_sqe_set_data64(s, ud(kAccept, lfd));
  std::unordered_map<int, std::string> pending;                // partial heads per connection
  std::unordered_map<int, std::deque<std::string>> in_flight;  // a send's bytes live until its CQE
  for (;;) {
    io_uring_submit_and_wait(&ring, 1);
    io_uring_cqe* cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      ++seen;
      int fd = int(uint32_t(cqe->user_data));
      auto op = Op(cqe->user_data >> 56);
      if (op == kAccept) {
        if (cqe->res >= 0) arm_recv(cqe->res);
        if (!(cqe->flags & IORING_CQE_F_MORE)) {  // re-arm the accept
          io_uring_sqe* a = io_uring_get_sqe(&ring);
          io_uring_prep_multishot_accept(a, lfd, nullptr, nullptr, SOCK_NONBLOCK);
          io_uring_sqe_set_data64(a, ud(kAccept, lfd));
        }
      } else if (op == kSend) {
        auto& q = in_flight[fd];
        if (!q.empty()) q.pop_front();  // (one socket's sends complete in order)
      } else if (cqe->res <= 0) {       // the receive ended: the peer closed (or an error)
        if (cqe->res == -ENOBUFS) {
          arm_recv(fd);
        } else {
          pending.erase(fd);
          close(fd);
        }
      } else {
        unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        std::string& buf = pending[fd];
        buf.append(&bufs[size_t(bid) * kBufSize], size_t(cqe->res));
        io_uring_buf_ring_add(br, &bufs[size_t(bid) * kBufSize], kBufSize, uint16_t(bid), io_uring_buf_ring_mask(kBufs),
                              0);
        io_uring_buf_ring_advance(br, 1);
        std::string out;
        for (int k = take_heads(buf); k > 0; --k) out += response;
        if (!out.empty()) {
          auto& q = in_flight[fd];
          q.push_back(std::move(out));
          io_uring_sqe* w = io_uring_get_sqe(&ring);
          io_uring_prep_send(w, fd, q.back().data(), q.back().size(), MSG_NOSIGNAL);
          io_uring_sqe_set_data64(w, ud(kSend, fd));
        }
        if (!(cqe->flags & IORING_CQE_F_MORE)) arm_recv(fd);
      }
    }
    io_uring_cq_advance(&ring, seen);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: %s PORT [epoll|io_uring]\n", argv[0]);
    return 2;
  }
  const std::string response = canned_response();
  int lfd = listen_on(std::atoi(argv[1]));
  if (argc == 3 && std::strcmp(argv[2], "io_uring") == 0) return serve_uring(lfd, response);
  int one = 1;
  int ep = epoll_create1(0);
  epoll_event ev{EPOLLIN, {.fd = lfd}};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  std::unordered_map<int, std::string> pending;  // partial heads per connection
  epoll_event events[256];
  char chunk[16384];
  std::string out;
  for (;;) {
    int n = epoll_wait(ep, events, 256, -1);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == lfd) {
        int c;
        while ((c = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK)) >= 0) {
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          epoll_event cev{EPOLLIN, {.fd = c}};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
        }
        continue;
      }
      ssize_t got = recv(fd, chunk, sizeof chunk, 0);
      if (got <= 0) {
        pending.erase(fd);
        close(fd);
        continue;
      }
      std::string& buf = pending[fd];
      buf.append(chunk, size_t(got));
      out.clear();
      for (int k = take_heads(buf); k > 0; --k) out += response;
      // (a client that stops reading would need backpressure; wrk reads everything)
      if (!out.empty() && send(fd, out.data(), out.size(), MSG_NOSIGNAL) < 0) {
        pending.erase(fd);
        close(fd);
      }
    }
  }
}
