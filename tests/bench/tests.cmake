# The benchmark harness in smoke mode (tiny sizes, one run): keeps tests/bench/ working in CI. It
# installs its peers when they are missing (nginx from Debian, npm packages from package-lock.json)
# and fails, never skips, when one cannot be had. The full benchmark is `tests/bench/run.sh`
# (docs/BENCHMARKS.md); it is not part of the test command.
# The wasm core hashes the chunks the harness sends: this build's, or the prebuilt widget's copy.
set(bench_env "RESUMABLE_TEST_SERVER_BIN=$<TARGET_FILE:resumable_test_server>" "RESUMABLE_CLI_BIN=$<TARGET_FILE:resumable_command>"
  "RESUMABLE_ARTIFACTS_DIR=${CMAKE_BINARY_DIR}/test-artifacts" "RESUMABLE_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
if(RESUMABLE_BUILD_WASM)
  list(APPEND bench_env "RESUMABLE_WASM_DIR=${RESUMABLE_WASM_DIR}")
elseif(RESUMABLE_WIDGET_PREBUILT_DIR)
  list(APPEND bench_env "RESUMABLE_WASM_DIR=${RESUMABLE_WIDGET_PREBUILT_DIR}")
endif()
add_test(NAME bench.smoke COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/bench/run.sh --smoke)
set_tests_properties(bench.smoke PROPERTIES LABELS bench-smoke TIMEOUT 300 RUN_SERIAL TRUE ENVIRONMENT "${bench_env}")
# The scale-out measure (issue 17) in smoke mode: instances behind nginx over PostgreSQL, and the S3
# store, each engine started by its fixture for the run (run.sh wraps bench.mjs in both).
if(RESUMABLE_POSTGRESQL AND RESUMABLE_S3)
  add_test(NAME bench.smoke_scaleout COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/bench/run.sh --smoke --only scaleout)
  set_tests_properties(bench.smoke_scaleout PROPERTIES LABELS "bench-smoke;scaleout;s3" TIMEOUT 300 RUN_SERIAL TRUE
    ENVIRONMENT "${bench_env}")
endif()
