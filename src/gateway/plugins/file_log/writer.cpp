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

// A piece of one producer thread's queue. `state` counts the bytes published in it; kSealed
// is set, with the final count, once the producer has moved on to `next`.
struct LogWriter::Chunk {
  explicit Chunk(std::size_t bytes) : data(new char[bytes]) {}
  static constexpr uint64_t kSealed = uint64_t{1} << 63;

  const std::unique_ptr<char[]> data;  // left uninitialized: pages are touched as used
  std::atomic<uint64_t> state{0};
  Chunk* next = nullptr;       // valid once sealed (written before the sealing store)
  Chunk* next_free = nullptr;  // in the lane's free stack
  std::size_t consumed = 0;    // writer thread only: bytes already handed to writev
};

// One producer thread's queue: a list of chunks the producer fills and the writer empties in
// order. Emptied chunks go back on a stack the producer takes from first, so the few chunks a
// busy producer cycles through stay in its cache (with one 8 MiB ring every record landed
// on memory last touched 8 MiB earlier: 0.3-0.6 us more per record, measured); more chunks,
// up to the writer's queue size, are made only while the writer lags.
struct LogWriter::Lane {
  explicit Lane(std::size_t chunk_bytes) : owner(std::this_thread::get_id()) {
    chunks.push_back(std::make_unique<Chunk>(chunk_bytes));
    head = tail = chunks.back().get();
  }

  const std::thread::id owner;
  // Producer side.
  Chunk* head;                                 // the chunk being filled
  std::size_t head_used = 0;                   // its published bytes
  std::vector<std::unique_ptr<Chunk>> chunks;  // every chunk made (owned until the writer dies)
  alignas(64) std::atomic<Chunk*> free_top{nullptr};  // the writer pushes, the producer pops
  std::atomic<std::size_t> free_count{0};  // at most the stack's size (counted after a push)
  std::atomic<uint64_t> produced{0};       // bytes published since the start
  // Writer side.
  alignas(64) Chunk* tail;            // the oldest chunk not yet emptied
  std::atomic<uint64_t> consumed{0};  // bytes written (or dropped) since the start
};

namespace {
// Chunks are a quarter of the queue up to 64 KiB: tests with tiny queues still cross chunks.
std::size_t chunk_size_for(std::size_t queue_bytes) {
  return std::clamp<std::size_t>(queue_bytes / 4, 1, 64u << 10);
}
}  // namespace

LogWriter::LogWriter(std::string path, std::size_t queue_bytes, telemetry::Registry& registry)
    : path_(std::move(path)),
      queue_bytes_(queue_bytes == 0 ? 1 : queue_bytes),
      chunk_bytes_(chunk_size_for(queue_bytes_)),
      // queue_bytes in full chunks besides the one being filled, whose rest may be short: a
      // line of up to queue_bytes always fits once the writer has caught up.
      max_chunks_((queue_bytes_ + chunk_bytes_ - 1) / chunk_bytes_ + 1),
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

LogWriter::Lane& LogWriter::lane_for_this_thread() {
  // A few writers per thread at most (one per file-log path): a tiny cache keyed by the
  // writer's id answers every record but the first of each thread.
  struct Cached {
    uint64_t writer = 0;
    Lane* lane = nullptr;
  };
  thread_local std::array<Cached, 4> cache;
  thread_local unsigned next_slot = 0;
  for (const Cached& c : cache) {
    if (c.writer == id_) return *c.lane;
  }
  Lane* lane = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto self = std::this_thread::get_id();
    for (const auto& l : lanes_) {
      if (l->owner == self) lane = l.get();
    }
    if (lane == nullptr) {
      lanes_.push_back(std::make_unique<Lane>(chunk_bytes_));
      lane = lanes_.back().get();
    }
  }
  cache[next_slot++ % cache.size()] = {id_, lane};
  return *lane;
}

LogWriter::Chunk* LogWriter::take_chunk(Lane& lane) {
  // The most recently emptied chunk first: it is the one most likely still in cache. Only
  // this thread pops, so a popped chunk cannot come back meanwhile (no ABA).
  Chunk* chunk = lane.free_top.load(std::memory_order_acquire);
  while (chunk != nullptr &&
         !lane.free_top.compare_exchange_weak(chunk, chunk->next_free, std::memory_order_acquire,
                                              std::memory_order_acquire)) {
  }
  if (chunk != nullptr) {
    lane.free_count.fetch_sub(1, std::memory_order_relaxed);
  } else {
    if (lane.chunks.size() >= max_chunks_) return nullptr;
    lane.chunks.push_back(std::make_unique<Chunk>(chunk_bytes_));
    chunk = lane.chunks.back().get();
  }
  chunk->state.store(0, std::memory_order_relaxed);  // published by the sealing store
  chunk->next = nullptr;
  return chunk;
}

bool LogWriter::advance(Lane& lane) {
  Chunk* next = take_chunk(lane);
  if (next == nullptr) return false;
  lane.head->next = next;
  lane.head->state.store(lane.head_used | Chunk::kSealed, std::memory_order_release);
  lane.head = next;
  lane.head_used = 0;
  return true;
}

LogWriter::Reservation LogWriter::reserve(std::size_t bound) {
  Lane& lane = lane_for_this_thread();
  if (bound > chunk_bytes_) return {};
  if (chunk_bytes_ - lane.head_used < bound && !advance(lane)) return {};
  return {&lane, lane.head->data.get() + lane.head_used};
}

void LogWriter::commit(const Reservation& reservation, std::size_t size) {
  Lane& lane = *reservation.lane;
  assert(reservation.data == lane.head->data.get() + lane.head_used);
  assert(lane.head_used + size <= chunk_bytes_);
  lane.head_used += size;
  lane.head->state.store(lane.head_used, std::memory_order_release);
  publish(lane, size);
}

bool LogWriter::push(std::string_view line) {
  Lane& lane = lane_for_this_thread();
  const std::size_t room = chunk_bytes_ - lane.head_used;
  if (line.size() <= room) {
    char* at = lane.head->data.get() + lane.head_used;
    std::memcpy(at, line.data(), line.size());
    commit({&lane, at}, line.size());
    return true;
  }
  // Across chunks: all or nothing, so first make sure the chunks are there.
  if (line.size() > queue_bytes_) {  // would never fit
    dropped_->inc();
    return false;
  }
  const std::size_t extra = (line.size() - room + chunk_bytes_ - 1) / chunk_bytes_;
  const std::size_t available = lane.free_count.load(std::memory_order_acquire) +
                                (max_chunks_ - std::min(max_chunks_, lane.chunks.size()));
  if (available < extra) {
    dropped_->inc();
    return false;
  }
  // The writer must never see part of the line (it would write another thread's records
  // after it): the later chunks are filled and linked first, and the line becomes visible
  // at once with the store that seals the first one.
  Chunk* first = lane.head;
  std::memcpy(first->data.get() + lane.head_used, line.data(), room);
  std::size_t offset = room;
  Chunk* last = first;
  std::size_t last_used = 0;
  while (offset < line.size()) {
    Chunk* chunk = take_chunk(lane);
    assert(chunk != nullptr);  // counted above; only this thread takes chunks
    last_used = std::min(chunk_bytes_, line.size() - offset);
    std::memcpy(chunk->data.get(), line.data() + offset, last_used);
    offset += last_used;
    last->next = chunk;
    if (last != first) last->state.store(chunk_bytes_ | Chunk::kSealed, std::memory_order_relaxed);
    last = chunk;
  }
  last->state.store(last_used, std::memory_order_relaxed);
  first->state.store(chunk_bytes_ | Chunk::kSealed, std::memory_order_release);
  lane.head = last;
  lane.head_used = last_used;
  publish(lane, line.size());
  return true;
}

void LogWriter::publish(Lane& lane, std::size_t bytes) {
  const uint64_t produced = lane.produced.load(std::memory_order_relaxed) + bytes;
  lane.produced.store(produced, std::memory_order_release);
  // Past half the queue, the writer should not wait for its next round; tell it once.
  if (produced - lane.consumed.load(std::memory_order_relaxed) > queue_bytes_ / 2 &&
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
  std::vector<std::pair<Lane*, uint64_t>> targets;
  for (const auto& l : lanes_)
    targets.emplace_back(l.get(), l->produced.load(std::memory_order_acquire));
  const uint64_t request = ++flush_requests_;
  wake_.notify_one();
  return written_cv_.wait_for(lock, timeout, [&] {
    if (flush_served_ < request) return false;
    for (const auto& [lane, produced] : targets) {
      if (lane->consumed.load(std::memory_order_acquire) < produced) return false;
    }
    return true;
  });
}

void LogWriter::run() {
  std::vector<Lane*> lanes;
  auto wait = std::chrono::milliseconds(kLinger);
  for (;;) {
    bool stopping = false;
    uint64_t flushes = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping = stop_;
      flushes = flush_requests_;
      lanes.clear();
      for (const auto& l : lanes_) lanes.push_back(l.get());
    }
    kicked_.store(false, std::memory_order_relaxed);
    const bool wrote = drain(lanes);
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

bool LogWriter::drain(std::vector<Lane*>& lanes) {
  std::vector<iovec> pieces;
  std::vector<uint64_t> bytes(lanes.size(), 0);
  std::vector<std::pair<Lane*, Chunk*>> emptied;
  std::size_t total = 0;
  for (std::size_t i = 0; i < lanes.size(); ++i) {
    Lane& lane = *lanes[i];
    Chunk* chunk = lane.tail;
    for (;;) {
      const uint64_t state = chunk->state.load(std::memory_order_acquire);
      const std::size_t filled = state & ~Chunk::kSealed;
      if (filled > chunk->consumed) {
        pieces.push_back({chunk->data.get() + chunk->consumed, filled - chunk->consumed});
        bytes[i] += filled - chunk->consumed;
        chunk->consumed = filled;
      }
      if ((state & Chunk::kSealed) == 0) break;
      emptied.emplace_back(&lane, chunk);
      chunk = chunk->next;
    }
    lane.tail = chunk;
    total += bytes[i];
  }
  if (total > 0) write_all(pieces);
  // Only now, with writev done with their memory, may the producers reuse the chunks.
  for (auto [lane, chunk] : emptied) {
    chunk->consumed = 0;
    chunk->next_free = lane->free_top.load(std::memory_order_relaxed);
    while (!lane->free_top.compare_exchange_weak(chunk->next_free, chunk, std::memory_order_release,
                                                 std::memory_order_relaxed)) {
    }
    lane->free_count.fetch_add(1, std::memory_order_release);
  }
  for (std::size_t i = 0; i < lanes.size(); ++i) {
    if (bytes[i] > 0) lanes[i]->consumed.fetch_add(bytes[i], std::memory_order_release);
  }
  return total > 0;
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
