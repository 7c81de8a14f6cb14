#include "gateway/plugins/file_log/writer.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cerrno>
#include <climits>
#include <cstring>

#include "core/log.h"

namespace suoke::gateway::plugins::file_log {
namespace {

// Every writer of the process, for reopen_all().
std::mutex& writers_mutex() {
  static std::mutex m;
  return m;
}
std::vector<LogWriter*>& writers() {
  static std::vector<LogWriter*> list;
  return list;
}

std::atomic<uint64_t> next_writer_id{1};

}  // namespace

// One producer thread's bytes. head and tail count bytes since the start (they never wrap;
// the offset in `data` is the count modulo the capacity): the producer alone moves head,
// the writer alone moves tail.
struct LogWriter::Ring {
  explicit Ring(std::size_t capacity)
      : capacity(capacity), data(new char[capacity]), owner(std::this_thread::get_id()) {}

  const std::size_t capacity;
  const std::unique_ptr<char[]> data;  // left uninitialized: pages are touched as used
  const std::thread::id owner;
  alignas(64) std::atomic<uint64_t> head{0};
  alignas(64) std::atomic<uint64_t> tail{0};
};

LogWriter::LogWriter(std::string path, std::size_t ring_bytes, telemetry::Registry& registry)
    : path_(std::move(path)),
      ring_bytes_(ring_bytes == 0 ? 1 : ring_bytes),
      id_(next_writer_id.fetch_add(1, std::memory_order_relaxed)),
      dropped_(
          &registry.counter("suoke_file_log_dropped_total",
                            "Log records the file-log plugin dropped because its queue was full",
                            {{"path", path_}})) {
  thread_ = std::thread([this] { run(); });
  std::lock_guard<std::mutex> lock(writers_mutex());
  writers().push_back(this);
}

LogWriter::~LogWriter() {
  {
    std::lock_guard<std::mutex> lock(writers_mutex());
    auto& list = writers();
    for (auto it = list.begin(); it != list.end(); ++it) {
      if (*it == this) {
        list.erase(it);
        break;
      }
    }
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
  if (fd_ >= 0) ::close(fd_);
}

LogWriter::Ring& LogWriter::ring_for_this_thread() {
  // A few writers per thread at most (one per file-log path): a tiny cache keyed by the
  // writer's id answers every record but the first of each thread.
  struct Cached {
    uint64_t writer = 0;
    Ring* ring = nullptr;
  };
  thread_local std::array<Cached, 4> cache;
  thread_local unsigned next_slot = 0;
  for (const Cached& c : cache) {
    if (c.writer == id_) return *c.ring;
  }
  Ring* ring = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto self = std::this_thread::get_id();
    for (const auto& r : rings_) {
      if (r->owner == self) ring = r.get();
    }
    if (ring == nullptr) {
      rings_.push_back(std::make_unique<Ring>(ring_bytes_));
      ring = rings_.back().get();
    }
  }
  cache[next_slot++ % cache.size()] = {id_, ring};
  return *ring;
}

LogWriter::Reservation LogWriter::reserve(std::size_t bound) {
  Ring& ring = ring_for_this_thread();
  const uint64_t head = ring.head.load(std::memory_order_relaxed);
  const uint64_t tail = ring.tail.load(std::memory_order_acquire);
  const std::size_t offset = head % ring.capacity;
  if (ring.capacity - (head - tail) < bound || ring.capacity - offset < bound) return {};
  return {&ring, ring.data.get() + offset};
}

void LogWriter::commit(const Reservation& reservation, std::size_t size) {
  Ring& ring = *reservation.ring;
  assert(reservation.data ==
         ring.data.get() + ring.head.load(std::memory_order_relaxed) % ring.capacity);
  publish(ring, ring.head.load(std::memory_order_relaxed) + size);
}

bool LogWriter::push(std::string_view line) {
  Ring& ring = ring_for_this_thread();
  const uint64_t head = ring.head.load(std::memory_order_relaxed);
  const uint64_t tail = ring.tail.load(std::memory_order_acquire);
  if (ring.capacity - (head - tail) < line.size()) {
    dropped_->inc();
    return false;
  }
  const std::size_t offset = head % ring.capacity;
  const std::size_t first = std::min(line.size(), ring.capacity - offset);
  std::memcpy(ring.data.get() + offset, line.data(), first);
  std::memcpy(ring.data.get(), line.data() + first, line.size() - first);
  publish(ring, head + line.size());
  return true;
}

void LogWriter::publish(Ring& ring, uint64_t head) {
  ring.head.store(head, std::memory_order_release);
  // Past half full, the writer should not wait for its next round; tell it once.
  if (head - ring.tail.load(std::memory_order_relaxed) > ring.capacity / 2 &&
      !kicked_.exchange(true, std::memory_order_relaxed)) {
    std::lock_guard<std::mutex> lock(mutex_);
    wake_.notify_one();
  }
}

void LogWriter::request_reopen() {
  reopen_requested_.store(true, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(mutex_);
  wake_.notify_one();
}

bool LogWriter::flush(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  std::vector<std::pair<Ring*, uint64_t>> targets;
  for (const auto& r : rings_)
    targets.emplace_back(r.get(), r->head.load(std::memory_order_acquire));
  const uint64_t request = ++flush_requests_;
  wake_.notify_one();
  return written_cv_.wait_for(lock, timeout, [&] {
    if (flush_served_ < request) return false;
    for (const auto& [ring, head] : targets) {
      if (ring->tail.load(std::memory_order_acquire) < head) return false;
    }
    return true;
  });
}

void LogWriter::run() {
  std::vector<Ring*> rings;
  auto wait = std::chrono::milliseconds(kLinger);
  for (;;) {
    bool stopping = false;
    uint64_t flushes = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping = stop_;
      flushes = flush_requests_;
      rings.clear();
      for (const auto& r : rings_) rings.push_back(r.get());
    }
    kicked_.store(false, std::memory_order_relaxed);
    const bool wrote = drain(rings);
    if (stopping && !wrote) {
      std::lock_guard<std::mutex> lock(mutex_);
      flush_served_ = flushes;
      written_cv_.notify_all();
      return;
    }
    // Collect again soon while records arrive; back off while the gateway is idle (a
    // record then waits at most kIdlePoll, flush() and shutdown end the wait at once).
    wait = wrote ? std::chrono::milliseconds(kLinger)
                 : std::min(wait * 2, std::chrono::milliseconds(kIdlePoll));
    std::unique_lock<std::mutex> lock(mutex_);
    if (flush_served_ != flushes) {
      flush_served_ = flushes;
      written_cv_.notify_all();
    }
    wake_.wait_for(lock, wait, [&] {
      return stop_ || flush_requests_ != flush_served_ || kicked_.load(std::memory_order_relaxed);
    });
  }
}

bool LogWriter::drain(std::vector<Ring*>& rings) {
  std::vector<iovec> pieces;
  std::vector<uint64_t> heads;
  pieces.reserve(rings.size() * 2);
  std::size_t bytes = 0;
  for (Ring* ring : rings) {
    const uint64_t head = ring->head.load(std::memory_order_acquire);
    const uint64_t tail = ring->tail.load(std::memory_order_relaxed);
    heads.push_back(head);
    if (head == tail) continue;
    const std::size_t offset = tail % ring->capacity;
    const std::size_t size = head - tail;
    const std::size_t first = std::min(size, ring->capacity - offset);
    pieces.push_back({ring->data.get() + offset, first});
    if (size > first) pieces.push_back({ring->data.get(), size - first});
    bytes += size;
  }
  if (bytes == 0) return false;
  write_all(pieces);
  for (std::size_t i = 0; i < rings.size(); ++i)
    rings[i]->tail.store(heads[i], std::memory_order_release);
  return true;
}

bool LogWriter::open_file() {
  if (reopen_requested_.exchange(false, std::memory_order_relaxed) && fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (fd_ >= 0) return true;
  // Kong opens with O_WRONLY|O_APPEND|O_CREAT and mode 0644.
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    if (!open_failed_logged_) {
      log::error("file-log: cannot open log file; records are lost until it opens",
                 {{"path", path_}, {"error", std::strerror(errno)}});
      open_failed_logged_ = true;
    }
    return false;
  }
  open_failed_logged_ = false;
  return true;
}

void LogWriter::write_all(std::vector<iovec>& pieces) {
  // Records that cannot reach the file are gone: each line counts as dropped.
  auto drop_from = [&](std::size_t first) {
    for (std::size_t i = first; i < pieces.size(); ++i) {
      const char* p = static_cast<const char*>(pieces[i].iov_base);
      dropped_->inc(static_cast<uint64_t>(std::count(p, p + pieces[i].iov_len, '\n')));
    }
  };
  if (!open_file()) return drop_from(0);
  std::size_t first = 0;
  while (first < pieces.size()) {
    const int count = static_cast<int>(std::min<std::size_t>(pieces.size() - first, IOV_MAX));
    ssize_t n = ::writev(fd_, pieces.data() + first, count);
    if (n < 0) {
      if (errno == EINTR) continue;
      report_write_failure(errno);
      drop_from(first);
      break;
    }
    // Skip what was written; a partial write leaves the rest of a piece for the next call.
    auto left = static_cast<std::size_t>(n);
    while (first < pieces.size() && left >= pieces[first].iov_len) left -= pieces[first++].iov_len;
    if (left > 0) {
      pieces[first].iov_base = static_cast<char*>(pieces[first].iov_base) + left;
      pieces[first].iov_len -= left;
    }
  }
  if (first == pieces.size() && failed_batches_ > 0) {
    log::warn("file-log: writing again",
              {{"path", path_}, {"failed_batches", std::to_string(failed_batches_)}});
    failed_batches_ = 0;
    unreported_failures_ = 0;
  }
  if (reopen_each_batch_.load(std::memory_order_relaxed)) {
    ::close(fd_);
    fd_ = -1;
  }
}

void LogWriter::report_write_failure(int error) {
  // A full disk fails every batch (every kLinger): one message when it starts, then one per
  // kFailureLogInterval with the count, not one every 2 ms. The lines are counted as dropped.
  ++failed_batches_;
  ++unreported_failures_;
  const auto now = std::chrono::steady_clock::now();
  if (failed_batches_ > 1 && now - last_failure_log_ < kFailureLogInterval) return;
  log::error("file-log: write failed; records are dropped until writes succeed",
             {{"path", path_},
              {"error", std::strerror(error)},
              {"failed_batches", std::to_string(unreported_failures_)}});
  last_failure_log_ = now;
  unreported_failures_ = 0;
}

void reopen_all() {
  std::lock_guard<std::mutex> lock(writers_mutex());
  for (LogWriter* w : writers()) w->request_reopen();
}

}  // namespace suoke::gateway::plugins::file_log
