// Catch2's main() for cross builds, where Debian's prebuilt libCatch2WithMain.a (x86-64) cannot
// be linked: the same translation unit Catch2 compiles into it.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
