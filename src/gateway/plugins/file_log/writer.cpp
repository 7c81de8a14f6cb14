#include "gateway/plugins/file_log/writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
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

}  // namespace

LogWriter::LogWriter(std::string path, std::size_t capacity, telemetry::Registry& registry)
    : path_(std::move(path)),
      capacity_(capacity == 0 ? 1 : capacity),
      dropped_(&registry.counter("suoke_file_log_dropped_total",
                                 "Log records the file-log plugin dropped because its queue was full",
                                 {{"path", path_}})) {
  queue_.reserve(64 << 10);
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

bool LogWriter::push(std::string_view line) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (queued_lines_ >= capacity_) {
      dropped_->inc();
      return false;
    }
    queue_.append(line);
    ++queued_lines_;
    ++accepted_;
    // Only a sleeping writer needs the (syscall) wake-up; a lingering one is woken early
    // only when the queue is half full.
    wake = sleeping_ || queued_lines_ == (capacity_ + 1) / 2;
  }
  if (wake) wake_.notify_one();
  return true;
}

void LogWriter::request_reopen() {
  reopen_requested_.store(true, std::memory_order_relaxed);
  wake_.notify_one();
}

bool LogWriter::flush(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  uint64_t target = accepted_;
  flush_requested_ = true;
  wake_.notify_one();
  return written_cv_.wait_for(lock, timeout, [&] { return written_.load(std::memory_order_acquire) >= target; });
}

void LogWriter::run() {
  std::string batch;
  batch.reserve(64 << 10);
  for (;;) {
    uint64_t lines = 0;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      sleeping_ = true;
      wake_.wait(lock, [&] { return stop_ || queued_lines_ > 0; });
      sleeping_ = false;
      if (queued_lines_ == 0 && stop_) return;
      // The two buffers trade places, so both keep their capacity from batch to batch.
      batch.swap(queue_);
      lines = queued_lines_;
      queued_lines_ = 0;
      flush_requested_ = false;
    }
    write_batch(batch, lines);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      written_.fetch_add(lines, std::memory_order_release);
    }
    written_cv_.notify_all();
    batch.clear();
    // A burst can grow a buffer a lot; do not keep that memory for ever.
    if (batch.capacity() > (8u << 20)) {
      std::string fresh;
      fresh.reserve(64 << 10);
      batch.swap(fresh);
    }
    // Linger before the next batch: the lines of the next moments go out in one write, and
    // since the writer is not sleeping meanwhile, push() makes no wake-up call (a futex
    // syscall and a context switch per request otherwise, on a busy gateway). Records reach
    // the file at most kLinger later; flush() and shutdown end the wait at once.
    std::unique_lock<std::mutex> lock(mutex_);
    wake_.wait_for(lock, kLinger, [&] {
      return stop_ || flush_requested_ || queued_lines_ >= (capacity_ + 1) / 2;
    });
  }
}

void LogWriter::write_batch(const std::string& batch, uint64_t lines) {
  if (reopen_requested_.exchange(false, std::memory_order_relaxed) && fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (fd_ < 0) {
    // Kong opens with O_WRONLY|O_APPEND|O_CREAT and mode 0644.
    fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      if (!open_failed_logged_) {
        log::error("file-log: cannot open log file; records are lost until it opens",
                   {{"path", path_}, {"error", std::strerror(errno)}});
        open_failed_logged_ = true;
      }
      dropped_->inc(lines);
      return;
    }
    open_failed_logged_ = false;
  }
  std::string_view data = batch;
  while (!data.empty()) {
    ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      log::error("file-log: write failed", {{"path", path_}, {"error", std::strerror(errno)}});
      break;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  if (reopen_each_batch_.load(std::memory_order_relaxed)) {
    ::close(fd_);
    fd_ = -1;
  }
}

void reopen_all() {
  std::lock_guard<std::mutex> lock(writers_mutex());
  for (LogWriter* w : writers()) w->request_reopen();
}

}  // namespace suoke::gateway::plugins::file_log
