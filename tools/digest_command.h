// The digest command: prints or checks the tree digest of files (docs/digest.md), like b2sum.
//
//   PROGRAM [FILE]...           "<hex>  <name>" per file ("-" or no FILE: standard input)
//   PROGRAM --check [LIST]...   "<name>: OK" / "<name>: FAILED" per line of each list
//
// Files are read in 1 MiB pieces: memory does not grow with their size. Returns the exit status: 0
// when every file was read (and, with --check, matched), 1 otherwise, 2 on a usage error. The same
// output and exit status as tools/resumable_digest.py, the reference (tests/vectors/check_digest_tools.py).
// Used by `resumable-digest` and by `resumable digest` (cli/); writes to stdout and stderr, names
// itself `program` in messages. Not thread-safe (one command per process).
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace resumable::tools {

int run_digest_command(std::string_view program, std::span<const std::string> args);

}  // namespace resumable::tools
