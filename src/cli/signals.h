// Signals for long-running subcommands: SIGINT/SIGTERM/SIGHUP/SIGUSR1 are blocked before any thread
// starts (threads inherit the mask) and the main thread waits for them synchronously, so no
// async-signal-safety pitfalls exist anywhere else.
#pragma once

namespace suoke::cli {

void block_control_signals();
// Waits for SIGINT, SIGTERM, SIGHUP or SIGUSR1 and returns which one arrived.
int wait_for_control_signal();

}  // namespace suoke::cli
