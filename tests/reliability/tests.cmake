# Reliability and security tests (issue 7; docs/RELIABILITY.md). Included by tests/CMakeLists.txt.
#   reliability  node tests driving resumable_test_server over loopback: fault proxy, crash and
#                restart, power loss (LD_PRELOAD journal shim), disk full, abuse and limits, hostile
#                names, access (label reliability)
#   browser      the widget in Chromium through the fault proxy and with hostile names
#   concurrency  Catch2 concurrency tests; scripts/test.sh also runs them under ThreadSanitizer
#   fuzz         libFuzzer targets, built with clang in their own build dir and run briefly
set(RESUMABLE_RELIABILITY_DIR ${CMAKE_CURRENT_LIST_DIR})

# The servers under test are tests/support's resumable_test_server (all limits as flags).

# Concurrency tests in C++ (Catch2): run in every build, and under TSan by scripts/test.sh.
add_executable(resumable_concurrency_tests ${RESUMABLE_RELIABILITY_DIR}/test_concurrency.cpp)
target_include_directories(resumable_concurrency_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit)
target_link_libraries(resumable_concurrency_tests PRIVATE resumable_server nlohmann_json::nlohmann_json CURL::libcurl
  ${RESUMABLE_CATCH2_MAIN})
target_compile_definitions(resumable_concurrency_tests PRIVATE
  RESUMABLE_VECTORS_PATH="${CMAKE_CURRENT_SOURCE_DIR}/vectors/vectors.json")
target_compile_options(resumable_concurrency_tests PRIVATE ${RESUMABLE_WARNINGS})
catch_discover_tests(resumable_concurrency_tests TEST_PREFIX "concurrency." PROPERTIES LABELS concurrency TIMEOUT 600)
if(RESUMABLE_SANITIZE MATCHES "thread")
  # Under TSan the server suite's own race and restart tests join the concurrency label.
  add_test(NAME concurrency.server_races_tagged COMMAND resumable_server_tests "[races]")
  set_tests_properties(concurrency.server_races_tagged PROPERTIES LABELS concurrency TIMEOUT 900)
  # And the upload core's own tests, whose writer threads run beside the test thread.
  add_test(NAME concurrency.upload_core COMMAND resumable_upload_core_tests)
  set_tests_properties(concurrency.upload_core PROPERTIES LABELS concurrency TIMEOUT 600)
endif()

# Regression tests for server bugs the reliability work found (label reliability).
add_executable(resumable_findings_tests ${RESUMABLE_RELIABILITY_DIR}/test_findings.cpp)
target_include_directories(resumable_findings_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit)
target_link_libraries(resumable_findings_tests PRIVATE resumable_server nlohmann_json::nlohmann_json CURL::libcurl
  ${RESUMABLE_CATCH2_MAIN})
target_compile_definitions(resumable_findings_tests PRIVATE
  RESUMABLE_VECTORS_PATH="${CMAKE_CURRENT_SOURCE_DIR}/vectors/vectors.json")
target_compile_options(resumable_findings_tests PRIVATE ${RESUMABLE_WARNINGS})
# Also labelled unit, so that scripts/test.sh runs them under ASan+UBSan too.
catch_discover_tests(resumable_findings_tests TEST_PREFIX "reliability.findings." PROPERTIES TIMEOUT 300)
resumable_catch_labels(resumable_findings_tests reliability unit)

# The attack's findings (issue 18), each held by a test (label reliability; also unit, for ASan).
add_executable(resumable_attack_tests ${RESUMABLE_RELIABILITY_DIR}/test_attacks.cpp)
target_include_directories(resumable_attack_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit ${RESUMABLE_SERVER_INTERNAL_INCLUDES})
target_link_libraries(resumable_attack_tests PRIVATE resumable_server nlohmann_json::nlohmann_json CURL::libcurl
  ${RESUMABLE_CATCH2_MAIN})
target_compile_definitions(resumable_attack_tests PRIVATE
  RESUMABLE_VECTORS_PATH="${CMAKE_CURRENT_SOURCE_DIR}/vectors/vectors.json")
target_compile_options(resumable_attack_tests PRIVATE ${RESUMABLE_WARNINGS})
catch_discover_tests(resumable_attack_tests TEST_PREFIX "reliability.attacks." PROPERTIES TIMEOUT 300)
resumable_catch_labels(resumable_attack_tests reliability unit)

# Node tests: one ctest per tests/reliability/*.test.mjs; *.browser.test.mjs need the demo build
# (Chromium + the widget compiled into the server).
set(reliability_env
  "RESUMABLE_RELIABILITY_SERVER_BIN=$<TARGET_FILE:resumable_test_server>"
  "RESUMABLE_POWER_LOSS_SHIM=$<TARGET_FILE:resumable_power_loss_shim>"
  "RESUMABLE_ARTIFACTS_DIR=${CMAKE_BINARY_DIR}/test-artifacts"
  "RESUMABLE_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
  "RESUMABLE_WASM_DIR=${RESUMABLE_WASM_DIR}")
if(RESUMABLE_BUILD_WASM)
  file(GLOB reliability_tests CONFIGURE_DEPENDS ${RESUMABLE_RELIABILITY_DIR}/*.test.mjs)
  foreach(test_file IN LISTS reliability_tests)
    get_filename_component(test_name "${test_file}" NAME)
    string(REGEX REPLACE "\\.test\\.mjs$" "" test_name "${test_name}")
    set(label reliability)
    if(test_name MATCHES "\\.browser$")
      if(NOT RESUMABLE_BUILD_DEMO)
        continue()
      endif()
      set(label "reliability;browser")
      string(REGEX REPLACE "\\.browser$" "" test_name "${test_name}")
    endif()
    add_test(NAME reliability.${test_name} COMMAND ${NODE} --test ${test_file})
    set_tests_properties(reliability.${test_name} PROPERTIES LABELS "${label}" TIMEOUT 900
      ENVIRONMENT "${reliability_env}")
  endforeach()
endif()

# libFuzzer targets. In a clang build configured with -DRESUMABLE_FUZZ=ON (tests/fuzz/run.sh does
# that in its own build dir) they are built; in the normal build one ctest builds and runs them briefly.
option(RESUMABLE_FUZZ "Build the libFuzzer targets (clang only)" OFF)
set(RESUMABLE_FUZZ_TARGETS fuzz_request_params fuzz_storage_codec fuzz_upload_state fuzz_http_endpoint fuzz_tus_headers
  fuzz_ietf_fields)
if(RESUMABLE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "RESUMABLE_FUZZ needs clang (CC=clang-14 CXX=clang++-14)")
  endif()
  # Coverage instrumentation for the code under test, so that libFuzzer is guided by it; clang's
  # warnings differ from gcc's, and the fuzz build must not fail on a new one.
  foreach(library resumable_server resumable_store_filesystem resumable_upload resumable_core)
    target_compile_options(${library} PRIVATE -fsanitize=fuzzer-no-link -Wno-error)
  endforeach()
  foreach(target IN LISTS RESUMABLE_FUZZ_TARGETS)
    add_executable(${target} ${PROJECT_SOURCE_DIR}/tests/fuzz/${target}.cpp)
    target_include_directories(${target} PRIVATE ${RESUMABLE_SERVER_INTERNAL_INCLUDES})
    target_link_libraries(${target} PRIVATE resumable_server nlohmann_json::nlohmann_json)
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer ${RESUMABLE_WARNINGS} -Wno-error)
    target_link_options(${target} PRIVATE -fsanitize=fuzzer)
  endforeach()
  add_custom_target(fuzz_targets DEPENDS ${RESUMABLE_FUZZ_TARGETS})
elseif(NOT RESUMABLE_SANITIZE)
  # clang-14 is installed by scripts/setup.sh: a missing one fails the configure, never skips fuzzing.
  find_program(RESUMABLE_CLANGXX clang++-14 REQUIRED)
  add_test(NAME fuzz.short_runs COMMAND bash ${PROJECT_SOURCE_DIR}/tests/fuzz/run.sh
    --build-dir ${CMAKE_BINARY_DIR}/fuzz-build --seconds 20)
  # It builds with both cores and then fuzzes one target per core: alone, so that no test beside it
  # starves (ctest runs the rest two at a time).
  set_tests_properties(fuzz.short_runs PROPERTIES LABELS fuzz TIMEOUT 1200 RUN_SERIAL TRUE)
endif()
