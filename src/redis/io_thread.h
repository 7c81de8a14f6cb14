// Marks the threads that run a redis client's io_context, so the blocking facades
// (Client::exec, exec_pipeline, scan) can refuse to run there: they would wait for a reply
// that only that very thread can deliver.
#pragma once

namespace suoke::redis::detail {

// Call at the start of an IO thread (standalone and cluster clients).
void mark_io_thread();
bool on_io_thread();

}  // namespace suoke::redis::detail
