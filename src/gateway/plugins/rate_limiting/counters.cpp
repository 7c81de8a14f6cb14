#include "gateway/plugins/rate_limiting/counters.h"

#include <bit>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <random>
#include <stop_token>
#include <thread>
#include <vector>

namespace suoke::gateway::plugins::rate_limiting {
namespace {

// Slots probed in one segment before moving on to the next (larger) one.
constexpr std::size_t kMaxProbe = 16;
// Beyond this many segments (2^kMaxSegments * kInitialSlots slots in the last one) a new
// identifier is not tracked: the request passes uncounted rather than the node running out
// of memory under an identifier flood.
constexpr int kMaxSegments = 14;
// A tag no window index maps to (even, so it does not read as "being wiped").
constexpr int64_t kUnusedTag = -(int64_t{1} << 62);
constexpr auto kJanitorPeriod = std::chrono::milliseconds(200);

// SipHash-2-4 (Aumasson & Bernstein): a keyed hash, so clients cannot choose identifiers
// that collide.
uint64_t rotl(uint64_t x, int b) { return std::rotl(x, b); }

uint64_t siphash24(uint64_t k0, uint64_t k1, std::string_view in) {
  uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
  uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
  auto round = [&] {
    v0 += v1;
    v1 = rotl(v1, 13);
    v1 ^= v0;
    v0 = rotl(v0, 32);
    v2 += v3;
    v3 = rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = rotl(v1, 17);
    v1 ^= v2;
    v2 = rotl(v2, 32);
  };
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  std::size_t n = in.size(), full = n & ~std::size_t{7};
  for (std::size_t i = 0; i < full; i += 8) {
    uint64_t m = 0;
    for (int b = 7; b >= 0; --b) m = (m << 8) | p[i + b];  // little-endian load
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
  uint64_t last = static_cast<uint64_t>(n & 0xff) << 56;
  for (std::size_t i = full; i < n; ++i) last |= static_cast<uint64_t>(p[i]) << (8 * (i - full));
  v3 ^= last;
  round();
  round();
  v0 ^= last;
  v2 ^= 0xff;
  round();
  round();
  round();
  round();
  return v0 ^ v1 ^ v2 ^ v3;
}

int64_t floor_mod(int64_t a, int64_t b) {
  int64_t r = a % b;
  return r < 0 ? r + b : r;
}

// The one background thread that readies the next windows of every live store.
class Janitor {
 public:
  static Janitor& instance() {
    static Janitor janitor;
    return janitor;
  }

  void add(std::weak_ptr<WindowCounters> store) {
    std::lock_guard<std::mutex> lock(mutex_);
    stores_.push_back(std::move(store));
    if (!thread_.joinable()) thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
  }

 private:
  Janitor() = default;

  void run(std::stop_token stop) {
    std::vector<std::shared_ptr<WindowCounters>> live;
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stop.stop_requested()) {
      live.clear();
      std::erase_if(stores_, [&](const std::weak_ptr<WindowCounters>& w) {
        auto s = w.lock();
        if (!s) return true;  // its plugin runtime is gone
        live.push_back(std::move(s));
        return false;
      });
      lock.unlock();
      for (auto& s : live) s->prepare();
      live.clear();  // stores die with their owners, not with the janitor's copy
      lock.lock();
      wake_.wait_for(lock, stop, kJanitorPeriod, [] { return false; });
    }
  }

  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::vector<std::weak_ptr<WindowCounters>> stores_;
  std::jthread thread_;  // last: stopped and joined before the members it uses go away
};

}  // namespace

struct WindowCounters::Slot {
  std::atomic<uint64_t> key{0};  // fingerprint; 0 = free
  std::atomic<uint64_t> count{0};
};

struct WindowCounters::Segment {
  explicit Segment(std::size_t n, int depth) : mask(n - 1), depth(depth), slots(new Slot[n]) {}
  ~Segment() { delete next.load(std::memory_order_relaxed); }

  Slot* find(uint64_t key, bool insert) {
    for (Segment* seg = this; seg != nullptr;) {
      // Each segment uses other bits of the (uniform) fingerprint for its start slot.
      std::size_t start = static_cast<std::size_t>(rotl(key, 7 * seg->depth)) & seg->mask;
      for (std::size_t i = 0; i < kMaxProbe && i <= seg->mask; ++i) {
        Slot& s = seg->slots[(start + i) & seg->mask];
        uint64_t k = s.key.load(std::memory_order_acquire);
        if (k == key) return &s;
        if (k != 0) continue;
        if (!insert) return nullptr;
        if (s.key.compare_exchange_strong(k, key, std::memory_order_acq_rel)) return &s;
        if (k == key) return &s;  // another thread inserted the same identifier
      }
      Segment* next = seg->next.load(std::memory_order_acquire);
      if (!next && insert) {
        if (seg->depth + 1 >= kMaxSegments) return nullptr;
        auto* fresh = new Segment((seg->mask + 1) * 2, seg->depth + 1);
        if (seg->next.compare_exchange_strong(next, fresh, std::memory_order_acq_rel)) {
          next = fresh;
        } else {
          delete fresh;  // lost the race; `next` holds the winner's segment
        }
      }
      seg = next;
    }
    return nullptr;
  }

  void wipe() {
    for (Segment* seg = this; seg != nullptr; seg = seg->next.load(std::memory_order_acquire)) {
      for (std::size_t i = 0; i <= seg->mask; ++i) {
        seg->slots[i].count.store(0, std::memory_order_relaxed);
        seg->slots[i].key.store(0, std::memory_order_relaxed);
      }
    }
  }

  std::size_t capacity() const {
    std::size_t n = 0;
    for (const Segment* seg = this; seg != nullptr;
         seg = seg->next.load(std::memory_order_acquire)) {
      n += seg->mask + 1;
    }
    return n;
  }

  const std::size_t mask;
  const int depth;
  std::unique_ptr<Slot[]> slots;
  std::atomic<Segment*> next{nullptr};
};

struct WindowCounters::Table {
  // 2 * window index while the table serves that window; 2 * index + 1 while it is being
  // wiped for it.
  std::atomic<int64_t> tag{kUnusedTag};
  Segment head{kInitialSlots, 0};
};

std::shared_ptr<WindowCounters> WindowCounters::create() {
  auto store = std::make_shared<WindowCounters>();
  Janitor::instance().add(store);
  return store;
}

WindowCounters::WindowCounters() : tables_(new Table[kPeriodCount * 3]) {
  std::random_device rd;
  k0_ = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  k1_ = (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

WindowCounters::~WindowCounters() = default;

uint64_t WindowCounters::fingerprint(std::string_view identifier) const {
  uint64_t h = siphash24(k0_, k1_, identifier);
  return h == 0 ? 1 : h;
}

WindowCounters::Table* WindowCounters::table_for(Period p, int64_t index) {
  Table& t = tables_[static_cast<int>(p) * 3 + floor_mod(index, 3)];
  const int64_t ready = 2 * index;
  for (;;) {
    int64_t tag = t.tag.load(std::memory_order_acquire);
    if (tag == ready) return &t;
    if (tag & 1) {  // being wiped (by the janitor or another request): a short wait
      std::this_thread::yield();
      continue;
    }
    if ((tag >> 1) > index) return nullptr;  // already serves a later window (clock went back)
    if (t.tag.compare_exchange_strong(tag, ready + 1, std::memory_order_acq_rel)) {
      t.head.wipe();
      t.tag.store(ready, std::memory_order_release);
      return &t;
    }
  }
}

WindowCounters::Decision WindowCounters::acquire(uint64_t fp,
                                                 const std::array<uint64_t, kPeriodCount>& limits,
                                                 int64_t now_ms) {
  // Tell the janitor which windows are current; written once a second, not per request.
  int64_t seen = last_seen_ms_.load(std::memory_order_relaxed);
  if (now_ms / 1000 != seen / 1000) last_seen_ms_.store(now_ms, std::memory_order_relaxed);

  Decision d;
  std::array<Slot*, kPeriodCount> taken{};
  for (int i = 0; i < kPeriodCount; ++i) {
    if (limits[i] == 0) continue;
    Period p = static_cast<Period>(i);
    d.windows[i] = window_for(p, now_ms);
    Table* t = table_for(p, d.windows[i].index);
    Slot* s = t ? t->head.find(fp, true) : nullptr;
    if (!s) continue;  // not trackable (see kMaxSegments, table_for): passes uncounted
    uint64_t c = s->count.load(std::memory_order_relaxed);
    while (c < limits[i] && !s->count.compare_exchange_weak(c, c + 1, std::memory_order_relaxed,
                                                            std::memory_order_relaxed)) {
    }
    if (c >= limits[i]) {
      d.stop = i;
      d.counts[i] = c;
      break;
    }
    d.counts[i] = c + 1;
    taken[i] = s;
  }
  if (d.stop < 0) {
    d.admitted = true;
    return d;
  }
  // Rejected: give back what the shorter windows counted, and report the longer ones as
  // they are.
  for (int i = 0; i < d.stop; ++i) {
    if (taken[i]) d.counts[i] = taken[i]->count.fetch_sub(1, std::memory_order_relaxed) - 1;
  }
  for (int i = d.stop + 1; i < kPeriodCount; ++i) {
    if (limits[i] == 0) continue;
    Period p = static_cast<Period>(i);
    d.windows[i] = window_for(p, now_ms);
    Table& t = tables_[i * 3 + floor_mod(d.windows[i].index, 3)];
    if (t.tag.load(std::memory_order_acquire) != 2 * d.windows[i].index) continue;
    if (Slot* s = t.head.find(fp, false)) d.counts[i] = s->count.load(std::memory_order_relaxed);
  }
  return d;
}

void WindowCounters::prepare() {
  int64_t now_ms = last_seen_ms_.load(std::memory_order_relaxed);
  if (now_ms == 0) return;  // no request yet
  for (int i = 0; i < kPeriodCount; ++i) {
    Period p = static_cast<Period>(i);
    bool used = false;
    for (int j = 0; j < 3; ++j)
      used |= tables_[i * 3 + j].tag.load(std::memory_order_relaxed) != kUnusedTag;
    if (!used) continue;
    int64_t next = window_for(p, now_ms).index + 1;
    Table& t = tables_[i * 3 + floor_mod(next, 3)];
    int64_t tag = t.tag.load(std::memory_order_acquire);
    if ((tag & 1) || (tag >> 1) >= next) continue;
    if (t.tag.compare_exchange_strong(tag, 2 * next + 1, std::memory_order_acq_rel)) {
      t.head.wipe();
      t.tag.store(2 * next, std::memory_order_release);
    }
  }
}

std::size_t WindowCounters::slot_capacity() const {
  std::size_t n = 0;
  for (int i = 0; i < kPeriodCount * 3; ++i) n += tables_[i].head.capacity();
  return n;
}

}  // namespace suoke::gateway::plugins::rate_limiting
