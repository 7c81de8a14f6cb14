#include "sessions/memory_repository.h"

#include <algorithm>
#include <functional>

#include "telemetry/metrics.h"

namespace suoke::sessions {
namespace {

// Map node, LRU node and index entry bookkeeping per session, roughly.
constexpr std::size_t kEntryOverhead = 160;
// How many sessions from the LRU end a save on a full shard checks for expired ones.
constexpr int kExpiredProbe = 16;

std::size_t ceil_div(std::size_t a, std::size_t b) { return (a + b - 1) / b; }

}  // namespace

MemorySessionRepository::MemorySessionRepository(const SessionOptions& options)
    : SessionRepository("memory", options),
      clock_(*this->options().clock),
      active_(&telemetry::Registry::global().gauge("active_sessions", "Sessions currently stored.",
                                                   {{"backend", "memory"}})),
      evicted_(&telemetry::Registry::global().counter(
          "sessions_evicted_total", "Sessions evicted to stay within the memory bounds.",
          {{"backend", "memory"}})) {
  std::size_t n = std::max<std::size_t>(1, this->options().shards);
  shard_max_sessions_ =
      this->options().max_sessions == 0 ? 0 : ceil_div(this->options().max_sessions, n);
  shard_max_bytes_ = this->options().max_bytes == 0 ? 0 : ceil_div(this->options().max_bytes, n);
  shards_.reserve(n);
  index_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    shards_.push_back(std::make_unique<Shard>());
    index_.push_back(std::make_unique<IndexShard>());
  }
  if (this->options().sweep_interval.count() > 0) sweeper_ = std::thread([this] { sweep_loop(); });
}

MemorySessionRepository::~MemorySessionRepository() {
  {
    std::lock_guard lock(sweep_mu_);
    stopping_ = true;
  }
  sweep_cv_.notify_all();
  if (sweeper_.joinable()) sweeper_.join();
  // The gauge is shared by every memory repository of the process: take back what this one added.
  active_->add(-live_.load());
}

void MemorySessionRepository::sweep_loop() {
  std::unique_lock lock(sweep_mu_);
  while (!stopping_) {
    if (sweep_cv_.wait_for(lock, options().sweep_interval, [this] { return stopping_; })) break;
    lock.unlock();
    sweep_expired();
    lock.lock();
  }
}

std::size_t MemorySessionRepository::shard_of(std::string_view session_id) const {
  return std::hash<std::string_view>{}(session_id) % shards_.size();
}

MemorySessionRepository::Shard& MemorySessionRepository::shard_for(std::string_view session_id) {
  return *shards_[shard_of(session_id)];
}

MemorySessionRepository::IndexShard& MemorySessionRepository::index_for(std::string_view user_id) {
  // A different mix than shard_of so a user's index shard is not correlated with a session's.
  return *index_[(std::hash<std::string_view>{}(user_id)*0x9E3779B97F4A7C15ull >> 17) %
                 index_.size()];
}

void MemorySessionRepository::erase_locked(Shard& shard, StringMap<Entry>::iterator it,
                                           Dropped& dropped) {
  if (!it->second.user_id.empty()) dropped.emplace_back(std::move(it->second.user_id), it->first);
  shard.bytes -= it->second.bytes;
  shard.lru.erase(it->second.lru);
  shard.map.erase(it);
  live_.fetch_sub(1, std::memory_order_relaxed);
  active_->add(-1);
}

void MemorySessionRepository::unindex(const Dropped& dropped) {
  const int64_t now = clock_.now_ms();
  for (const auto& [user_id, session_id] : dropped) {
    IndexShard& ix = index_for(user_id);
    std::lock_guard ilock(ix.mu);
    auto u = ix.users.find(user_id);
    if (u == ix.users.end()) continue;
    auto s = u->second.find(session_id);
    if (s == u->second.end()) continue;
    // A concurrent save may have stored the session again for the same user: keep its entry.
    bool live = false;
    {
      Shard& shard = shard_for(session_id);
      std::lock_guard slock(shard.mu);
      auto it = shard.map.find(session_id);
      live =
          it != shard.map.end() && it->second.user_id == user_id && it->second.expires_at_ms > now;
    }
    if (live) continue;
    u->second.erase(s);
    if (u->second.empty()) ix.users.erase(u);
  }
}

Result<void> MemorySessionRepository::put(std::string_view session_id, std::string stored,
                                          std::string user_id, int64_t last_active,
                                          int64_t ttl_seconds) {
  const std::size_t bytes = session_id.size() + stored.size() + user_id.size() + kEntryOverhead;
  if (shard_max_bytes_ != 0 && bytes > shard_max_bytes_) {
    return Error::make("session of " + std::to_string(bytes) +
                           " bytes exceeds the memory store's per-shard budget of " +
                           std::to_string(shard_max_bytes_) + " bytes (max_bytes / shards)",
                       "too_large");
  }
  const int64_t expires_at = clock_.now_ms() + ttl_seconds * 1000;
  Dropped dropped;
  std::size_t evicted = 0;
  {
    Shard& shard = shard_for(session_id);
    std::lock_guard lock(shard.mu);
    auto it = shard.map.find(session_id);
    if (it != shard.map.end()) {
      // Replaced in place below; only a change of user needs the old index entry dropped.
      if (it->second.user_id != user_id && !it->second.user_id.empty()) {
        dropped.emplace_back(it->second.user_id, it->first);
      }
      shard.bytes -= it->second.bytes;
      shard.lru.erase(it->second.lru);
      shard.map.erase(it);
      live_.fetch_sub(1, std::memory_order_relaxed);
      active_->add(-1);
    }
    // Make room. Expired sessions near the LRU end go first (they were not going to be read
    // again); looking at a bounded number keeps a save on a full shard O(1) rather than a
    // scan of the shard, which the periodic sweep does instead.
    auto over = [&] {
      return (shard_max_sessions_ != 0 && shard.map.size() + 1 > shard_max_sessions_) ||
             (shard_max_bytes_ != 0 && shard.bytes + bytes > shard_max_bytes_);
    };
    if (over()) {
      const int64_t now = clock_.now_ms();
      auto pos = shard.lru.end();
      for (int looked = 0; looked < kExpiredProbe && pos != shard.lru.begin() && over(); ++looked) {
        --pos;
        auto e = shard.map.find(**pos);
        if (e->second.expires_at_ms > now) continue;
        pos = std::next(pos);  // stays valid: only the erased node's iterator is invalidated
        erase_locked(shard, e, dropped);
      }
    }
    while (over() && !shard.lru.empty()) {
      auto victim = shard.map.find(*shard.lru.back());
      erase_locked(shard, victim, dropped);
      ++evicted;
    }
    shard.evictions += evicted;
    auto [pos, inserted] = shard.map.try_emplace(std::string(session_id));
    Entry& e = pos->second;
    e.stored = std::move(stored);
    e.user_id = user_id;
    e.last_active = last_active;
    e.expires_at_ms = expires_at;
    e.bytes = bytes;
    shard.lru.push_front(&pos->first);
    e.lru = shard.lru.begin();
    shard.bytes += bytes;
    live_.fetch_add(1, std::memory_order_relaxed);
    active_->add(1);
  }
  if (evicted != 0) evicted_->inc(evicted);
  unindex(dropped);
  if (!user_id.empty()) {
    IndexShard& ix = index_for(user_id);
    std::lock_guard ilock(ix.mu);
    ix.users[user_id][std::string(session_id)] = last_active;
  }
  return Ok();
}

Result<void> MemorySessionRepository::do_save(const Session& trimmed, const std::string& stored,
                                              int64_t ttl_seconds) {
  return put(trimmed.session_id, stored, trimmed.user_id, trimmed.last_active, ttl_seconds);
}

Result<void> MemorySessionRepository::store_raw(std::string_view session_id, std::string stored,
                                                int64_t ttl_seconds) {
  if (session_id.empty()) return Error::make("session_id must not be empty", "invalid");
  if (ttl_seconds <= 0) return Error::make("ttl_seconds must be positive", "invalid");
  return put(session_id, std::move(stored), std::string(), 0, ttl_seconds);
}

Result<std::optional<Session>> MemorySessionRepository::do_get(std::string_view session_id) {
  std::optional<std::string> stored;
  Dropped dropped;
  {
    Shard& shard = shard_for(session_id);
    std::lock_guard lock(shard.mu);
    auto it = shard.map.find(session_id);
    if (it == shard.map.end()) return std::optional<Session>();
    if (it->second.expires_at_ms <= clock_.now_ms()) {
      erase_locked(shard, it, dropped);
    } else {
      shard.lru.splice(shard.lru.begin(), shard.lru, it->second.lru);
      stored = it->second.stored;
    }
  }
  if (!stored) {
    unindex(dropped);
    return std::optional<Session>();
  }
  auto parsed = parse_session(*stored);
  if (!parsed)
    return Error::make("session \"" + std::string(session_id) + "\": " + parsed.error().message,
                       "parse");
  return std::optional<Session>(std::move(*parsed));
}

Result<bool> MemorySessionRepository::do_remove(std::string_view session_id) {
  Dropped dropped;
  bool removed = false;
  {
    Shard& shard = shard_for(session_id);
    std::lock_guard lock(shard.mu);
    auto it = shard.map.find(session_id);
    if (it != shard.map.end()) {
      removed = it->second.expires_at_ms > clock_.now_ms();
      erase_locked(shard, it, dropped);
    }
  }
  unindex(dropped);
  return removed;
}

Result<bool> MemorySessionRepository::do_touch(std::string_view session_id, int64_t ttl_seconds) {
  Dropped dropped;
  {
    Shard& shard = shard_for(session_id);
    std::lock_guard lock(shard.mu);
    auto it = shard.map.find(session_id);
    if (it == shard.map.end()) return false;
    const int64_t now = clock_.now_ms();
    if (it->second.expires_at_ms > now) {
      it->second.expires_at_ms = now + ttl_seconds * 1000;
      shard.lru.splice(shard.lru.begin(), shard.lru, it->second.lru);
      return true;
    }
    erase_locked(shard, it, dropped);
  }
  unindex(dropped);
  return false;
}

std::size_t MemorySessionRepository::sweep_expired() {
  std::size_t swept = 0;
  for (auto& shard_ptr : shards_) {
    Dropped dropped;
    {
      Shard& shard = *shard_ptr;
      std::lock_guard lock(shard.mu);
      const int64_t now = clock_.now_ms();
      for (auto it = shard.map.begin(); it != shard.map.end();) {
        auto next = std::next(it);
        if (it->second.expires_at_ms <= now) {
          erase_locked(shard, it, dropped);
          ++swept;
        }
        it = next;
      }
    }
    unindex(dropped);
  }
  return swept;
}

Result<std::size_t> MemorySessionRepository::do_count_active() {
  sweep_expired();
  return size();
}

Result<std::vector<Session>> MemorySessionRepository::do_list_user_sessions(
    std::string_view user_id, std::size_t limit) {
  std::vector<std::pair<int64_t, std::string>> candidates;
  {
    IndexShard& ix = index_for(user_id);
    std::lock_guard ilock(ix.mu);
    auto u = ix.users.find(user_id);
    if (u == ix.users.end()) return std::vector<Session>{};
    candidates.reserve(u->second.size());
    for (const auto& [sid, last_active] : u->second) candidates.emplace_back(last_active, sid);
  }
  // The Redis backends' order: ZREVRANGE, score descending, then member descending.
  std::sort(candidates.begin(), candidates.end(), std::greater<>());
  std::vector<Session> out;
  Dropped stale;
  const int64_t now = clock_.now_ms();
  for (const auto& [last_active, sid] : candidates) {
    if (out.size() >= limit) break;
    std::optional<std::string> stored;
    {
      Shard& shard = shard_for(sid);
      std::lock_guard lock(shard.mu);
      auto it = shard.map.find(sid);
      if (it != shard.map.end() && it->second.user_id == user_id &&
          it->second.expires_at_ms > now) {
        stored = it->second.stored;
      }
    }
    if (!stored) {
      stale.emplace_back(std::string(user_id), sid);
      continue;
    }
    auto parsed = parse_session(*stored);
    if (!parsed) return Error::make("session \"" + sid + "\": " + parsed.error().message, "parse");
    out.push_back(std::move(*parsed));
  }
  unindex(stale);
  return out;
}

std::optional<int64_t> MemorySessionRepository::ttl_ms(std::string_view session_id) {
  Shard& shard = shard_for(session_id);
  std::lock_guard lock(shard.mu);
  auto it = shard.map.find(session_id);
  if (it == shard.map.end()) return std::nullopt;
  int64_t left = it->second.expires_at_ms - clock_.now_ms();
  if (left <= 0) return std::nullopt;
  return left;
}

std::size_t MemorySessionRepository::bytes_used() const {
  std::size_t total = 0;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard->mu);
    total += shard->bytes;
  }
  return total;
}

std::size_t MemorySessionRepository::size() const {
  std::size_t total = 0;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard->mu);
    total += shard->map.size();
  }
  return total;
}

std::size_t MemorySessionRepository::evictions() const {
  std::size_t total = 0;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard->mu);
    total += shard->evictions;
  }
  return total;
}

}  // namespace suoke::sessions
