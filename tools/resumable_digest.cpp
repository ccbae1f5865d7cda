// resumable-digest: prints or checks the tree digest of files (docs/digest.md), like b2sum; the
// command itself is digest_command.cpp, shared with `resumable digest`.
#include "digest_command.h"

#include <string>
#include <vector>

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  return resumable::tools::run_digest_command("resumable-digest", args);
}
