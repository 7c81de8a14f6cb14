// The local policy's counters: one fixed window counter per (period, window, identifier),
// shared by every worker thread of the node, exact under concurrency and lock-free on the
// request path.
//
// Layout: per period a ring of three window tables (current, previous for requests that
// computed their timestamp just before a boundary, next being prepared). A table is an
// open-addressing hash of 64-bit identifier fingerprints to counters; when its probe
// sequence is full it grows by chaining a segment twice its size (installed with a CAS).
// Entries are never deleted one by one: a whole table is wiped when it is recycled for a new
// window, which is how expired windows are cleaned up. The wipe is done ahead of time by a
// background janitor (one thread for the process, off the request path); a request only
// wipes a table itself when the janitor has not run yet (a clock jump, e.g. FakeClock).
// Memory is thus bounded by three times the peak number of identifiers seen in one window.
//
// Exactness: admission is a CAS loop that never moves a counter past its limit, so with a
// limit of N exactly min(N, attempts) requests pass a window. With several periods the
// windows are taken shortest first; when a later one refuses, the earlier increments are
// given back (fetch_sub), so a rejected request consumes nothing. Fingerprints are keyed
// SipHash values with a random per-store key: a collision (probability ~n^2/2^65 for n
// identifiers in one window, not steerable by clients) merges two identifiers' counters,
// which can only reject early, never admit above a limit.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>

#include "gateway/plugins/rate_limiting/windows.h"

namespace suoke::gateway::plugins::rate_limiting {

class WindowCounters {
 public:
  static constexpr std::size_t kInitialSlots = 256;

  struct Decision {
    bool admitted = false;
    // The period whose window refused the request; -1 when admitted.
    int stop = -1;
    // Per configured period: requests counted in its current window after this decision
    // (including this request when admitted).
    std::array<uint64_t, kPeriodCount> counts{};
    std::array<Window, kPeriodCount> windows{};
  };

  // Creates a store and registers it with the background janitor (which holds it weakly).
  static std::shared_ptr<WindowCounters> create();

  WindowCounters();
  ~WindowCounters();
  WindowCounters(const WindowCounters&) = delete;
  WindowCounters& operator=(const WindowCounters&) = delete;

  // The keyed fingerprint of an identifier (never 0).
  uint64_t fingerprint(std::string_view identifier) const;

  // Counts one request of `fingerprint` in the window of every period with limits[p] > 0,
  // or in none of them when one window is full. Lock-free; allocates only when a table
  // grows.
  Decision acquire(uint64_t fingerprint, const std::array<uint64_t, kPeriodCount>& limits,
                   int64_t now_ms);

  // Off the request path: wipes the tables of the windows that follow the latest one a
  // request has used, so that the first request of a window does not have to.
  void prepare();

  // Slots allocated over all tables (memory is 16 bytes per slot).
  std::size_t slot_capacity() const;

 private:
  struct Slot;
  struct Segment;
  struct Table;

  Table* table_for(Period p, int64_t index);
  void recycle(Table& t);

  uint64_t k0_, k1_;
  std::unique_ptr<Table[]> tables_;  // kPeriodCount * 3
  // Epoch ms of the latest window change seen by a request: what prepare() works from, so
  // the janitor needs no clock.
  std::atomic<int64_t> last_seen_ms_{0};
};

}  // namespace suoke::gateway::plugins::rate_limiting
