#include "gateway/snapshot.h"

#include "gateway/router/router.h"

namespace suoke::gateway {

Result<void> Snapshot::compile_router() {
  auto built = router::Router::build(routes, services);
  if (!built.ok()) return built.error();
  router = std::make_shared<const router::Router>(std::move(built).value());
  return Ok();
}

SnapshotHolder::SnapshotHolder(std::shared_ptr<const Snapshot> initial) : latest_(std::move(initial)) {}

void SnapshotHolder::publish(std::shared_ptr<const Snapshot> next) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    latest_ = std::move(next);
  }
  generation_.fetch_add(1, std::memory_order_acq_rel);
}

std::shared_ptr<const Snapshot> SnapshotHolder::latest() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return latest_;
}

}  // namespace suoke::gateway
