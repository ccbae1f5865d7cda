# Scale-out tests (issue 17; docs/scale-out.md): several instances over shared records, against the
# real engines, each started by its fixture on 127.0.0.1 (label scaleout). Included by
# tests/CMakeLists.txt when the PostgreSQL registry is built.
#   scaleout.postgresql  the PostgreSQL registry's contract, and two upload cores over one registry
#                        and one shared data directory (tests/support/postgres_fixture.sh starts a
#                        throwaway PostgreSQL 15 cluster for the run and removes it afterwards)
add_executable(resumable_scaleout_tests ${CMAKE_CURRENT_LIST_DIR}/test_postgresql_registry.cpp)
target_link_libraries(resumable_scaleout_tests PRIVATE resumable_registry_postgresql resumable_store_filesystem
  resumable_upload PkgConfig::LIBPQ ${RESUMABLE_CATCH2_MAIN})
target_compile_options(resumable_scaleout_tests PRIVATE ${RESUMABLE_WARNINGS})
add_test(NAME scaleout.postgresql
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/../support/postgres_fixture.sh -- $<TARGET_FILE:resumable_scaleout_tests>)
if(RESUMABLE_SANITIZE MATCHES "thread")
  # Under TSan (scripts/test.sh's concurrency stage) too: two cores race releases and claims.
  set_tests_properties(scaleout.postgresql PROPERTIES LABELS "scaleout;concurrency" TIMEOUT 900)
else()
  set_tests_properties(scaleout.postgresql PROPERTIES LABELS scaleout TIMEOUT 600)
endif()

#   scaleout.three_instances  three resumable_test_server instances behind nginx (Debian's, started
#                        by the test on 127.0.0.1) over the registry and one shared data directory:
#                        the widget in Chromium through nginx, an instance SIGKILLed, racing last
#                        chunks, collection beside a running upload (needs the widget's files);
#   scaleout.three_instances_s3  the same over the S3 store in ceph_fixture.sh, and an S3 outage
if(RESUMABLE_HAS_WIDGET_ASSETS)
  # The wasm core hashes the chunks the test sends itself: this build's, or the prebuilt widget's copy.
  if(RESUMABLE_BUILD_WASM)
    set(scaleout_wasm_dir "${RESUMABLE_WASM_DIR}")
  else()
    set(scaleout_wasm_dir "${RESUMABLE_WIDGET_PREBUILT_DIR}")
  endif()
  set(RESUMABLE_SCALEOUT_THREE_ENV
    "RESUMABLE_RELIABILITY_SERVER_BIN=$<TARGET_FILE:resumable_test_server>;RESUMABLE_WASM_DIR=${scaleout_wasm_dir};RESUMABLE_ARTIFACTS_DIR=${CMAKE_BINARY_DIR}/test-artifacts;RESUMABLE_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
  add_test(NAME scaleout.three_instances
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/../support/postgres_fixture.sh -- ${NODE} --test ${CMAKE_CURRENT_LIST_DIR}/three_instances.test.mjs)
  set_tests_properties(scaleout.three_instances PROPERTIES LABELS "scaleout;browser" TIMEOUT 300
    ENVIRONMENT "${RESUMABLE_SCALEOUT_THREE_ENV}")
  # The same scenarios over the S3 store (one bucket prefix, records in the registry) against the
  # radosgw of ceph_fixture.sh, plus radosgw stopped for a moment mid-upload.
  if(RESUMABLE_S3)
    add_test(NAME scaleout.three_instances_s3
      COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/../support/ceph_fixture.sh --
              bash ${CMAKE_CURRENT_LIST_DIR}/../support/postgres_fixture.sh -- ${NODE} --test ${CMAKE_CURRENT_LIST_DIR}/three_instances.test.mjs)
    set_tests_properties(scaleout.three_instances_s3 PROPERTIES LABELS "scaleout;s3;browser" TIMEOUT 420
      ENVIRONMENT "${RESUMABLE_SCALEOUT_THREE_ENV};RESUMABLE_SCALEOUT_STORE=s3")
  endif()
endif()
