// The file-log plugin's writer: one background thread per file, fed through a bounded queue.
// push() never waits on the disk: it takes a short lock to copy the line to the end of the
// pending batch (one contiguous buffer, reused, so no allocation per line) and drops the line
// (counted in suoke_file_log_dropped_total{path}) when the queue is full. The thread writes
// each batch with one write(2).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "telemetry/metrics.h"

namespace suoke::gateway::plugins::file_log {

class LogWriter {
 public:
  static constexpr std::size_t kDefaultCapacity = 65536;  // lines waiting for the disk
  // How long the writer gathers lines after a write before the next one.
  static constexpr std::chrono::milliseconds kLinger{2};

  LogWriter(std::string path, std::size_t capacity = kDefaultCapacity,
            telemetry::Registry& registry = telemetry::Registry::global());
  ~LogWriter();  // writes what is queued, then stops the thread
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // Queues one line (it must end with '\n'). False when the queue is full (dropped, counted).
  bool push(std::string_view line);

  // Kong's `reopen`: close and reopen the file for every batch.
  void set_reopen_each_batch(bool reopen) { reopen_each_batch_.store(reopen, std::memory_order_relaxed); }
  // Reopens the file before the next batch (log rotation: SIGUSR1).
  void request_reopen();

  // Waits until every line accepted so far has been written (tests, shutdown). False on timeout.
  bool flush(std::chrono::milliseconds timeout);

  const std::string& path() const { return path_; }
  uint64_t dropped() const { return dropped_->value(); }
  uint64_t written() const { return written_.load(std::memory_order_acquire); }

 private:
  void run();
  void write_batch(const std::string& batch, uint64_t lines);

  const std::string path_;
  const std::size_t capacity_;
  telemetry::Counter* dropped_;
  std::atomic<bool> reopen_each_batch_{false};
  std::atomic<bool> reopen_requested_{false};
  int fd_ = -1;

  std::mutex mutex_;
  std::condition_variable wake_;     // the writer waits for lines
  std::condition_variable written_cv_;  // flush() waits for the writer
  std::string queue_;          // the lines accepted and not yet taken by the writer
  std::size_t queued_lines_ = 0;
  uint64_t accepted_ = 0;  // guarded by mutex_
  bool sleeping_ = false;  // the writer is waiting on wake_ for lines (guarded by mutex_)
  bool flush_requested_ = false;  // flush() is waiting (guarded by mutex_)
  bool stop_ = false;
  std::atomic<uint64_t> written_{0};
  bool open_failed_logged_ = false;
  std::thread thread_;
};

// Asks every live writer of the process to reopen its file (SIGUSR1, log rotation).
void reopen_all();

}  // namespace suoke::gateway::plugins::file_log
