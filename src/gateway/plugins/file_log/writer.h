// The file-log plugin's writer: one background thread per file, fed without locks. Every
// thread that logs gets its own single-producer ring of bytes in the writer; a record goes
// into the ring with plain stores and one release store of the ring's head, so the request
// path takes no lock, makes no system call and never waits on the disk. A record that does
// not fit in the free space of its ring is dropped and counted in
// suoke_file_log_dropped_total{path}. The thread collects every ring every kLinger while
// records arrive (backing off to kIdlePoll when none do) and writes them with one writev(2);
// producers wake it early only when a ring is half full.
#pragma once

#include <sys/uio.h>

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
  // Bytes of records each logging thread may have waiting for the disk (about 5,000 of
  // Kong's records, 50 ms of a busy worker's traffic).
  static constexpr std::size_t kDefaultRingBytes = 8u << 20;
  // How often the writer collects while records arrive, and at most when none did.
  static constexpr std::chrono::milliseconds kLinger{2};
  static constexpr std::chrono::milliseconds kIdlePoll{50};
  // At most one "write failed" message per interval while writes keep failing.
  static constexpr std::chrono::seconds kFailureLogInterval{10};

  LogWriter(std::string path, std::size_t ring_bytes = kDefaultRingBytes,
            telemetry::Registry& registry = telemetry::Registry::global());
  ~LogWriter();  // writes what is queued, then stops the thread
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // Space for one record of at most `bound` bytes in the calling thread's ring, to be filled
  // and handed over with commit(). Empty when the free space is not contiguous; push() then.
  struct Ring;
  struct Reservation {
    Ring* ring = nullptr;
    char* data = nullptr;
  };
  Reservation reserve(std::size_t bound);
  void commit(const Reservation& reservation, std::size_t size);

  // Queues one line (it must end with '\n'). False when the ring is full (dropped, counted).
  bool push(std::string_view line);

  // Kong's `reopen`: close and reopen the file for every batch.
  void set_reopen_each_batch(bool reopen) {
    reopen_each_batch_.store(reopen, std::memory_order_relaxed);
  }
  // Reopens the file before the next batch (log rotation: SIGUSR1).
  void request_reopen();

  // Waits until every line accepted so far has been written (tests, shutdown). False on timeout.
  bool flush(std::chrono::milliseconds timeout);

  const std::string& path() const { return path_; }
  uint64_t dropped() const { return dropped_->value(); }

 private:
  Ring& ring_for_this_thread();
  void publish(Ring& ring, uint64_t head);
  void run();
  // Writes what every ring holds; false when there was nothing.
  bool drain(std::vector<Ring*>& rings);
  void write_all(std::vector<iovec>& pieces);
  bool open_file();
  void report_write_failure(int error);

  const std::string path_;
  const std::size_t ring_bytes_;
  const uint64_t id_;  // never reused, so a thread's cached ring of a dead writer never matches
  telemetry::Counter* dropped_;
  std::atomic<bool> reopen_each_batch_{false};
  std::atomic<bool> reopen_requested_{false};
  std::atomic<bool> kicked_{false};  // a producer asked for an early collection
  int fd_ = -1;
  bool open_failed_logged_ = false;
  uint64_t failed_batches_ = 0;       // in a row, since the last successful write
  uint64_t unreported_failures_ = 0;  // since the last "write failed" message
  std::chrono::steady_clock::time_point last_failure_log_;

  std::mutex mutex_;              // rings_, stop_ and the flush counters; never taken per record
  std::condition_variable wake_;  // the writer waits for its next collection
  std::condition_variable written_cv_;  // flush() waits for the writer
  std::vector<std::unique_ptr<Ring>> rings_;
  uint64_t flush_requests_ = 0;  // flush() calls so far
  uint64_t flush_served_ = 0;    // of those, the ones whose records the writer has written
  bool stop_ = false;
  std::thread thread_;
};

// Asks every live writer of the process to reopen its file (SIGUSR1, log rotation).
void reopen_all();

}  // namespace suoke::gateway::plugins::file_log
