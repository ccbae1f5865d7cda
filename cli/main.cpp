// resumable: the command-line uploader (docs/cli.md). Everything but the signal handling is in the
// resumable_cli library (cli/src/commands.h), so that tests can drive its parts.
#include "commands.h"

#include <csignal>

#include <atomic>
#include <string>
#include <vector>

namespace {
std::atomic<bool> interrupted{false};
extern "C" void on_signal(int) { interrupted.store(true); }
}  // namespace

int main(int argc, char** argv) {
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);  // no SA_RESTART: waits wake up and see the flag
  sigaction(SIGTERM, &action, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  const std::vector<std::string> args(argv + 1, argv + argc);
  return resumable::cli::run_command(args, interrupted);
}
