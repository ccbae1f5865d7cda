# The S3 store against a real radosgw (label scaleout and s3), each run inside
# tests/support/ceph_fixture.sh, which starts a throwaway single-node Ceph for it and removes it
# afterwards. Included by tests/CMakeLists.txt when the S3 store is built (RESUMABLE_S3).
#   scaleout.s3_store   the S3 client's calls, retries through an outage, the store's contract
#   scaleout.s3_upload  resumable.js and tus uploads through resumable_test_server --s3-endpoint (node;
#                       only with the WebAssembly build, which hashes the chunks as the widget does)
add_executable(resumable_s3_tests ${CMAKE_CURRENT_LIST_DIR}/test_s3_store.cpp)
target_link_libraries(resumable_s3_tests PRIVATE resumable_store_s3 resumable_upload ${RESUMABLE_CATCH2_MAIN})
target_compile_options(resumable_s3_tests PRIVATE ${RESUMABLE_WARNINGS})
add_test(NAME scaleout.s3_store
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/../support/ceph_fixture.sh -- $<TARGET_FILE:resumable_s3_tests>)
set_tests_properties(scaleout.s3_store PROPERTIES LABELS "scaleout;s3" TIMEOUT 600)

if(RESUMABLE_BUILD_WASM)
  add_test(NAME scaleout.s3_upload
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/../support/ceph_fixture.sh -- ${NODE} --test ${CMAKE_CURRENT_LIST_DIR}/s3_upload.test.mjs)
  set_tests_properties(scaleout.s3_upload PROPERTIES LABELS "scaleout;s3" TIMEOUT 900
    ENVIRONMENT "RESUMABLE_RELIABILITY_SERVER_BIN=$<TARGET_FILE:resumable_test_server>;RESUMABLE_WASM_DIR=${RESUMABLE_WASM_DIR};RESUMABLE_ARTIFACTS_DIR=${CMAKE_BINARY_DIR}/test-artifacts;RESUMABLE_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endif()

# The S3 store over the shared PostgreSQL registry (several upload cores over one database and one
# bucket), inside both fixtures: only when the PostgreSQL registry is built too.
#   scaleout.s3_registry  pieces through three instances, racing releases and claims, an instance
#                         dropped mid-upload or after recording the release, collection, an outage
if(RESUMABLE_POSTGRESQL)
  add_executable(resumable_s3_registry_tests ${CMAKE_CURRENT_LIST_DIR}/test_s3_registry.cpp)
  target_link_libraries(resumable_s3_registry_tests PRIVATE resumable_store_s3 resumable_registry_postgresql
    resumable_upload ${RESUMABLE_CATCH2_MAIN})
  target_compile_options(resumable_s3_registry_tests PRIVATE ${RESUMABLE_WARNINGS})
  add_test(NAME scaleout.s3_registry
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/../support/postgres_fixture.sh --
            bash ${CMAKE_CURRENT_LIST_DIR}/../support/ceph_fixture.sh -- $<TARGET_FILE:resumable_s3_registry_tests>)
  set_tests_properties(scaleout.s3_registry PROPERTIES LABELS "scaleout;s3" TIMEOUT 900)
endif()
