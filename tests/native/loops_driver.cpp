// Two socket loops in one process, one thread each, sharing no mutable state: each thread owns its
// server::Server, its dispatchers and its own WorkerPool (whose eventfd it watches in its epoll).
// Driven by tests/native/test_loops.py (also built with -fsanitize=thread).
//
//   GET/POST /echo...   answered at once: "loop <k> <method> <target> <body>"
//   GET /later?ms=N     Pending: a pool worker sleeps N ms, the loop completes the response
//                       when the result comes back through the ring + eventfd.
// Prints "PORTS <p0> <p1>" once both listen; exits (printing per-loop counts) when stdin closes.
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "http/response.hpp"
#include "server/metrics.hpp"
#include "server/loop.hpp"
#include "server/pool.hpp"

namespace fs = fasterapi::server;
namespace fh = fasterapi::http;

namespace {

struct Later {
  std::shared_ptr<fs::ConnLink> link;
  int ms;
  int loop;
  bool close;
};

struct Loop {
  int id;
  fs::WorkerPool pool{2, 64};
  uint64_t served = 0, later_done = 0, later_dropped = 0;
};

class Echo final : public fs::ConnectionDispatcher {
 public:
  explicit Echo(Loop& l) : loop_(l) {}
  uint64_t body_limit(const fh::Request&) override { return 1 << 20; }
  fh::HandleResult handle(const fh::Request& req, fh::Buffer& out) override {
    ++loop_.served;
    if (req.path == "/later") {
      int ms = 0;
      if (req.query.substr(0, 3) == "ms=") ms = std::atoi(std::string(req.query.substr(3)).c_str());
      auto* job = new Later{link, ms, loop_.id, !req.keep_alive};
      fs::Task t;
      t.run = [](void* a, int) { std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<Later*>(a)->ms)); };
      t.arg = job;
      loop_.pool.submit(t);
      return fh::HandleResult::Pending;
    }
    std::string body = "loop " + std::to_string(loop_.id) + " " + std::string(req.method) + " " +
                       std::string(req.target) + " " + std::string(req.body);
    fh::write_response(out, 200, "text/plain", "", body, !req.keep_alive, req.is_head);
    return fh::HandleResult::Done;
  }

 private:
  Loop& loop_;
};

void finish_later(Loop& loop, void* arg) {
  std::unique_ptr<Later> job(static_cast<Later*>(arg));
  fh::Connection* conn = job->link->conn;
  if (!conn) {
    ++loop.later_dropped;
    return;
  }  // the client went away
  std::string body = "loop " + std::to_string(job->loop) + " later " + std::to_string(job->ms);
  fh::write_response(conn->output(), 200, "text/plain", "", body, job->close, false);
  conn->complete();
  if (job->link->kick) job->link->kick();
  ++loop.later_done;
}

void run_loop(Loop& loop, std::atomic<int>& port_out, std::atomic<bool>& stop) {
  // Each loop's engine notes its routes' metric labels at its startup (--loop-threads: both at once)
  for (int i = 0; i < 200; ++i) fs::metrics::note_route(i, "GET", "/route/" + std::to_string(i));
  fs::Config cfg;
  fs::Server server(cfg, [&loop](const std::string&, int) { return std::make_unique<Echo>(loop); });
  server.watch(loop.pool.fd(), [&] { loop.pool.drain([&](void* a) { finish_later(loop, a); }); });
  port_out.store(server.listen("127.0.0.1", 0, false));
  auto last_sweep = std::chrono::steady_clock::now();
  while (!stop.load(std::memory_order_relaxed)) {
    server.poll(20);
    auto now = std::chrono::steady_clock::now();
    if (now - last_sweep > std::chrono::milliseconds(100)) {
      server.sweep();
      last_sweep = now;
    }
  }
  server.close_all();
  // Jobs still running hold links to closed connections: let them come back and be dropped.
  while (loop.pool.outstanding()) {
    pollfd p{loop.pool.fd(), POLLIN, 0};
    ::poll(&p, 1, 50);
    loop.pool.drain([&](void* a) { finish_later(loop, a); });
  }
  loop.pool.stop();
}

}  // namespace

int main() {
  Loop loops[2] = {{0}, {1}};
  std::atomic<int> ports[2] = {0, 0};
  std::atomic<bool> stop{false};
  std::thread t0(run_loop, std::ref(loops[0]), std::ref(ports[0]), std::ref(stop));
  std::thread t1(run_loop, std::ref(loops[1]), std::ref(ports[1]), std::ref(stop));
  while (!ports[0].load() || !ports[1].load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::printf("PORTS %d %d\n", ports[0].load(), ports[1].load());
  std::fflush(stdout);
  char buf[64];
  while (::read(0, buf, sizeof buf) > 0) {}
  stop.store(true);
  t0.join();
  t1.join();
  for (auto& l : loops)
    std::printf("LOOP %d served=%llu later=%llu dropped=%llu\n", l.id, (unsigned long long)l.served,
                (unsigned long long)l.later_done, (unsigned long long)l.later_dropped);
  return 0;
}
