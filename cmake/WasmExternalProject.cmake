# Drives the Emscripten build of wasm/ from the native build, so one configure builds both.
# Output: ${RESUMABLE_WASM_DIR}/resumable_core.js and resumable_core.wasm (target `wasm_core`).
include(ExternalProject)

find_program(EMCMAKE emcmake REQUIRED)
set(RESUMABLE_WASM_BINARY_DIR "${CMAKE_BINARY_DIR}/wasm-build")
set(RESUMABLE_WASM_DIR "${RESUMABLE_WASM_BINARY_DIR}" CACHE INTERNAL "")
set(RESUMABLE_WASM_JS "${RESUMABLE_WASM_DIR}/resumable_core.js" CACHE INTERNAL "")
set(RESUMABLE_WASM_BINARY "${RESUMABLE_WASM_DIR}/resumable_core.wasm" CACHE INTERNAL "")

# Debian's Emscripten links at -O2+ only with acorn on NODE_PATH (TOOLCHAIN.md pitfall 1).
cmake_host_system_information(RESULT _cores QUERY NUMBER_OF_LOGICAL_CORES)
set(_wasm_env ${CMAKE_COMMAND} -E env NODE_PATH=/usr/share/nodejs)

ExternalProject_Add(wasm_core
  SOURCE_DIR "${CMAKE_SOURCE_DIR}/wasm"
  BINARY_DIR "${RESUMABLE_WASM_BINARY_DIR}"
  CONFIGURE_COMMAND ${_wasm_env} ${EMCMAKE} ${CMAKE_COMMAND} -S <SOURCE_DIR> -B <BINARY_DIR>
                    -DCMAKE_BUILD_TYPE=Release -DRESUMABLE_CACHE_DIR=${RESUMABLE_CACHE_DIR}
  BUILD_COMMAND ${_wasm_env} ${CMAKE_COMMAND} --build <BINARY_DIR> --parallel ${_cores}
  INSTALL_COMMAND ""
  BUILD_ALWAYS ON
  BUILD_BYPRODUCTS "${RESUMABLE_WASM_JS}" "${RESUMABLE_WASM_BINARY}"
  USES_TERMINAL_BUILD ON)
