# The benchmark harness in smoke mode (tiny sizes, one run): keeps tests/bench/ working in CI. It
# installs its peers when they are missing (nginx from Debian, npm packages from package-lock.json)
# and fails, never skips, when one cannot be had. The full benchmark is `tests/bench/run.sh`
# (docs/BENCHMARKS.md); it is not part of the test command.
add_test(NAME bench.smoke COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/bench/run.sh --smoke)
set_tests_properties(bench.smoke PROPERTIES LABELS bench-smoke TIMEOUT 300 RUN_SERIAL TRUE
  ENVIRONMENT "RESUMABLE_TEST_SERVER_BIN=$<TARGET_FILE:resumable_test_server>;RESUMABLE_CLI_BIN=$<TARGET_FILE:resumable_command>;RESUMABLE_ARTIFACTS_DIR=${CMAKE_BINARY_DIR}/test-artifacts;RESUMABLE_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
