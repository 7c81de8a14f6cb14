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
  queue_.reserve(std::min<std::size_t>(capacity_, 1024));
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

bool LogWriter::push(std::string line) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (queue_.size() >= capacity_) {
      dropped_->inc();
      return false;
    }
    queue_.push_back(std::move(line));
    ++accepted_;
    wake = sleeping_;
  }
  // Only a sleeping writer needs the (syscall) wake-up; a busy one picks the line up next.
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
  if (sleeping_) wake_.notify_one();
  return written_cv_.wait_for(lock, timeout, [&] { return written_.load(std::memory_order_acquire) >= target; });
}

void LogWriter::run() {
  std::vector<std::string> batch;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      sleeping_ = true;
      wake_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      sleeping_ = false;
      if (queue_.empty() && stop_) return;
      batch.swap(queue_);
    }
    write_batch(batch);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      written_.fetch_add(batch.size(), std::memory_order_release);
    }
    written_cv_.notify_all();
    batch.clear();
  }
}

void LogWriter::write_batch(std::vector<std::string>& batch) {
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
      dropped_->inc(batch.size());
      return;
    }
    open_failed_logged_ = false;
  }
  // Coalesce the batch into few large writes.
  std::string buffer;
  std::size_t total = 0;
  for (const auto& line : batch) total += line.size();
  buffer.reserve(std::min<std::size_t>(total, 1 << 20));
  auto write_all = [&](std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        log::error("file-log: write failed", {{"path", path_}, {"error", std::strerror(errno)}});
        return;
      }
      data.remove_prefix(static_cast<std::size_t>(n));
    }
  };
  for (const auto& line : batch) {
    if (buffer.size() + line.size() > (1 << 20) && !buffer.empty()) {
      write_all(buffer);
      buffer.clear();
    }
    buffer.append(line);
  }
  if (!buffer.empty()) write_all(buffer);
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
