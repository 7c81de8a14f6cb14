#include "cli/signals.h"

#include <pthread.h>
#include <signal.h>

namespace suoke::cli {
namespace {
sigset_t control_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1);  // reopen log files (rotation)
  return set;
}
}  // namespace

void block_control_signals() {
  sigset_t set = control_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // Writes to a closed peer are errors to handle, not a reason to die.
  signal(SIGPIPE, SIG_IGN);
}

int wait_for_control_signal() {
  sigset_t set = control_set();
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  return sig;
}

}  // namespace suoke::cli
