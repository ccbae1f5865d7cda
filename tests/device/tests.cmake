# The device profile's minimal server (examples/device-minimal), label device: the host's
# `resumable` command uploads into it over HTTP and HTTPS (example_upload.test.mjs, ~6 s natively,
# ~13 s under qemu-arm). In a cross build (cmake/toolchains/armhf.cmake) the server runs under
# CMAKE_CROSSCOMPILING_EMULATOR and the command is a native build's: RESUMABLE_HOST_CLI
# (scripts/test.sh passes build-device's). Where the build compiles the widget in
# (RESUMABLE_HAS_WIDGET_ASSETS; the armhf build takes the full build's files through
# RESUMABLE_WIDGET_PREBUILT_DIR) the test also fetches it from the server's memory.
if(TARGET device_minimal)
  if(CMAKE_CROSSCOMPILING)
    set(RESUMABLE_HOST_CLI "" CACHE FILEPATH "A native build's resumable command, for the device tests of a cross build")
    if(NOT RESUMABLE_HOST_CLI)
      message(FATAL_ERROR "A cross build's device tests upload from the host: set RESUMABLE_HOST_CLI to a native "
                          "build's cli/resumable, or -DRESUMABLE_BUILD_TESTS=OFF")
    endif()
    set(device_cli "${RESUMABLE_HOST_CLI}")
  else()
    set(device_cli "$<TARGET_FILE:resumable_command>")
  endif()
  add_test(NAME device.example_upload COMMAND ${NODE} --test ${CMAKE_CURRENT_LIST_DIR}/example_upload.test.mjs)
  set_tests_properties(device.example_upload PROPERTIES LABELS device TIMEOUT 600
    ENVIRONMENT "RESUMABLE_EXPECT_WIDGET=$<BOOL:${RESUMABLE_HAS_WIDGET_ASSETS}>;RESUMABLE_WIDGET_PREBUILT_DIR=${RESUMABLE_WIDGET_PREBUILT_DIR};RESUMABLE_EXAMPLE_BIN=$<TARGET_FILE:device_minimal>;RESUMABLE_EMULATOR=${CMAKE_CROSSCOMPILING_EMULATOR};RESUMABLE_HOST_CLI=${device_cli}")
endif()

# The device demo's firmware updates (demo/device, the slot store): refusals, a signed image
# through the fault proxy, 12 SIGKILLs during an upload, a slot that became the running one
# (firmware_update.test.mjs, ~40 s natively).
if(TARGET resumable_device_demo)
  add_test(NAME device.firmware_update COMMAND ${NODE} --test ${CMAKE_CURRENT_LIST_DIR}/firmware_update.test.mjs)
  set_tests_properties(device.firmware_update PROPERTIES LABELS device TIMEOUT 900
    ENVIRONMENT "RESUMABLE_DEVICE_DEMO_BIN=$<TARGET_FILE:resumable_device_demo>;RESUMABLE_EMULATOR=${CMAKE_CROSSCOMPILING_EMULATOR};RESUMABLE_CLI_BIN=${device_cli};RESUMABLE_ARTIFACTS_DIR=${CMAKE_BINARY_DIR}/test-artifacts")
endif()
