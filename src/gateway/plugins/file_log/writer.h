// The file-log plugin's writer: one background thread per file, fed without locks. Every
// thread that logs gets its own single-producer queue of byte chunks in the writer; a record
// goes into the queue with plain stores and one release store, so the request path takes no
// lock, makes no system call and never waits on the disk. A record that does not fit in the
// free space of its queue is dropped and counted in suoke_file_log_dropped_total{path}. The
// thread collects every queue every kLinger while records arrive (backing off to kIdlePoll
// when none do) and writes them with one writev(2); producers wake it early only when a
// queue is half full.
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
  static constexpr std::size_t kDefaultQueueBytes = 8u << 20;
  // How often the writer collects while records arrive, and at most when none did.
  static constexpr std::chrono::milliseconds kLinger{2};
  static constexpr std::chrono::milliseconds kIdlePoll{50};
  // At most one "write failed" message per interval while writes keep failing.
  static constexpr std::chrono::seconds kFailureLogInterval{10};

  LogWriter(std::string path, std::size_t queue_bytes = kDefaultQueueBytes,
            telemetry::Registry& registry = telemetry::Registry::global());
  ~LogWriter();  // writes what is queued, then stops the thread
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // Space for one record of at most `bound` bytes in the calling thread's queue, to be
  // filled and handed over with commit(). Empty when no chunk has that much room (the record
  // is bigger than a chunk, or the queue is full); push() then.
  struct Lane;
  struct Reservation {
    Lane* lane = nullptr;
    char* data = nullptr;
  };
  Reservation reserve(std::size_t bound);
  void commit(const Reservation& reservation, std::size_t size);

  // Queues one line (it must end with '\n'). False when the queue is full (dropped, counted).
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
  struct Chunk;
  Lane& lane_for_this_thread();
  // A chunk from the lane's free stack, or a new one while the queue has room; null if full.
  Chunk* take_chunk(Lane& lane);
  // Seals the lane's head chunk and continues in a new one; false when the queue is full.
  bool advance(Lane& lane);
  void publish(Lane& lane, std::size_t bytes);
  void run();
  // Writes what every lane holds; false when there was nothing.
  bool drain(std::vector<Lane*>& lanes);
  void write_all(std::vector<iovec>& pieces);
  bool open_file();
  void report_write_failure(int error);

  const std::string path_;
  const std::size_t queue_bytes_;
  const std::size_t chunk_bytes_;
  const std::size_t max_chunks_;  // per lane
  const uint64_t id_;  // never reused, so a thread's cached lane of a dead writer never matches
  telemetry::Counter* dropped_;
  std::atomic<bool> reopen_each_batch_{false};
  std::atomic<bool> reopen_requested_{false};
  std::atomic<bool> kicked_{false};  // a producer asked for an early collection
  int fd_ = -1;
  bool open_failed_logged_ = false;
  uint64_t failed_batches_ = 0;       // in a row, since the last successful write
  uint64_t unreported_failures_ = 0;  // since the last "write failed" message
  std::chrono::steady_clock::time_point last_failure_log_;

  std::mutex mutex_;              // lanes_, stop_ and the flush counters; never taken per record
  std::condition_variable wake_;  // the writer waits for its next collection
  std::condition_variable written_cv_;  // flush() waits for the writer
  std::vector<std::unique_ptr<Lane>> lanes_;
  uint64_t flush_requests_ = 0;  // flush() calls so far
  uint64_t flush_served_ = 0;    // of those, the ones whose records the writer has written
  bool stop_ = false;
  std::thread thread_;
};

// Asks every live writer of the process to reopen its file (SIGUSR1, log rotation).
void reopen_all();

}  // namespace suoke::gateway::plugins::file_log
