# The `resumable` command (cli/, issue 15): node tests driving the binary against
# tests/support's resumable_test_server, through tests/reliability's fault proxy (label cli), and
# Catch2 tests of its parts that need no server (label unit, so also under ASan+UBSan; names cli.*).
add_executable(resumable_cli_tests ${PROJECT_SOURCE_DIR}/tests/unit/test_cli.cpp)
target_include_directories(resumable_cli_tests PRIVATE ${PROJECT_SOURCE_DIR}/server/frontends/resumablejs)
target_link_libraries(resumable_cli_tests PRIVATE resumable_cli resumable_server ${RESUMABLE_CATCH2_MAIN})
target_compile_definitions(resumable_cli_tests PRIVATE
  RESUMABLE_WIDGET_PROTOCOL_JS="${PROJECT_SOURCE_DIR}/widget/src/protocol.js")
target_compile_options(resumable_cli_tests PRIVATE ${RESUMABLE_WARNINGS})
catch_discover_tests(resumable_cli_tests TEST_PREFIX "cli." PROPERTIES LABELS unit)

#   cli.test.mjs           resume after SIGINT, a changed file, refusals, progress on a pty, verbs (~10 s)
#   cli_faults.test.mjs    512 MiB through drops, stalls and flipped bytes (~25 s)
#   cli_tus.test.mjs       --protocol tus: faults and checksums, SIGINT and resume, files at once, 413 (~17 s)
foreach(test_name cli cli_faults cli_tus)
  add_test(NAME cli.${test_name} COMMAND ${NODE} --test ${CMAKE_CURRENT_LIST_DIR}/${test_name}.test.mjs)
  set_tests_properties(cli.${test_name} PROPERTIES LABELS cli TIMEOUT 300
    ENVIRONMENT "RESUMABLE_CLI_BIN=$<TARGET_FILE:resumable_command>;RESUMABLE_RELIABILITY_SERVER_BIN=$<TARGET_FILE:resumable_test_server>;RESUMABLE_ARTIFACTS_DIR=${CMAKE_BINARY_DIR}/test-artifacts")
endforeach()
