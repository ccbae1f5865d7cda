# Builds CivetWeb as a static library (target `resumable_civetweb`, alias `civetweb::civetweb`) from
# Debian's civetweb source package: fetched once into RESUMABLE_CACHE_DIR by apt
# (cmake/DebianSource.cmake), unpacked with Debian's patches applied by dpkg-source, and its one
# source file src/civetweb.c compiled with the OpenSSL 3 API (Debian's binary libcivetweb dlopens
# OpenSSL 1.1 and has no IPv6). Nothing of CivetWeb is kept in git.
#
# RESUMABLE_CIVETWEB_FEATURES chooses what is compiled in (CGI never is; Debian's source has no Lua
# or Duktape):
#   tls          HTTPS with OpenSSL 3 (find_package(OpenSSL)); without it NO_SSL
#   ipv6         IPv6 listening ports ("[::1]:8080")
#   files        serving files from document_root, with caching (implies filesystems); the test
#                server's pages come from its document_root
#   filesystems  any file access by CivetWeb itself: error_log_file, access_log_file, password
#                files; without it errors go to the log_message callback (cmake/civetweb/*.inl)
#   websocket    WebSockets (nothing in this project uses them)
# The host profile's default is what the server, the demo and the tests use. The device profile's
# (RESUMABLE_PROFILE=device) is "tls;ipv6": the library serves the widget from memory and needs no
# file access by CivetWeb; its tests are the unit label, whose servers have no document_root (the
# test server's pages, for the system and browser tests, need "files"). The smallest build is ""
# (or "tls"): NO_SSL/NO_FILES/NO_FILESYSTEMS/NO_CACHING.
set(_civetweb_default_features "tls;ipv6;files")
if(RESUMABLE_PROFILE STREQUAL "device")
  set(_civetweb_default_features "tls;ipv6")
endif()
set(RESUMABLE_CIVETWEB_FEATURES "${_civetweb_default_features}" CACHE STRING
    "CivetWeb's compiled-in features, a list of: tls ipv6 files filesystems websocket")
set(_civetweb_known_features tls ipv6 files filesystems websocket)
set(_civetweb_features ${RESUMABLE_CIVETWEB_FEATURES})
foreach(_feature IN LISTS _civetweb_features)
  if(NOT _feature IN_LIST _civetweb_known_features)
    message(FATAL_ERROR "RESUMABLE_CIVETWEB_FEATURES: unknown feature '${_feature}' "
                        "(known: ${_civetweb_known_features})")
  endif()
endforeach()
if("files" IN_LIST _civetweb_features AND NOT "filesystems" IN_LIST _civetweb_features)
  list(APPEND _civetweb_features filesystems)
endif()

set(_civetweb_cache "${RESUMABLE_CACHE_DIR}/civetweb")
set(_civetweb_src "${CMAKE_BINARY_DIR}/civetweb-src")
include(${CMAKE_CURRENT_LIST_DIR}/DebianSource.cmake)
resumable_fetch_debian_source(civetweb "${_civetweb_cache}" _civetweb_dsc)
# The unpacked tree is reused while it comes from the same .dsc (the stamp holds its hash).
file(SHA256 "${_civetweb_dsc}" _civetweb_dsc_hash)
set(_civetweb_stamp "${_civetweb_src}/.resumable-unpacked-from")
set(_civetweb_stamp_found "")
if(EXISTS "${_civetweb_stamp}")
  file(READ "${_civetweb_stamp}" _civetweb_stamp_found)
endif()
if(NOT EXISTS "${_civetweb_src}/src/civetweb.c" OR NOT _civetweb_stamp_found STREQUAL _civetweb_dsc_hash)
  resumable_unpack_debian_source("${_civetweb_dsc}" "${_civetweb_src}")
  file(WRITE "${_civetweb_stamp}" "${_civetweb_dsc_hash}")
endif()
message(STATUS "CivetWeb from Debian's source (${_civetweb_dsc}), features: ${_civetweb_features}")

add_library(resumable_civetweb STATIC "${_civetweb_src}/src/civetweb.c")
add_library(civetweb::civetweb ALIAS resumable_civetweb)
set_target_properties(resumable_civetweb PROPERTIES EXPORT_NAME civetweb C_STANDARD 11 C_EXTENSIONS ON)
# Installed apart from any system civetweb.h (see the top-level install rules).
target_include_directories(resumable_civetweb
  PUBLIC $<BUILD_INTERFACE:${_civetweb_src}/include> $<INSTALL_INTERFACE:include/resumable/civetweb>
  PRIVATE "${CMAKE_CURRENT_LIST_DIR}/civetweb")
# STOP_FLAG_NEEDS_LOCK: mg_stop and the master thread share the stop flag through atomics instead
# of a plain volatile int (a data race that ThreadSanitizer reports at every mg_stop).
target_compile_definitions(resumable_civetweb PRIVATE NO_CGI STOP_FLAG_NEEDS_LOCK)
# Not our code: its warnings are CivetWeb's to fix.
target_compile_options(resumable_civetweb PRIVATE -w)
find_package(Threads REQUIRED)
target_link_libraries(resumable_civetweb PRIVATE Threads::Threads)
if("tls" IN_LIST _civetweb_features)
  find_package(OpenSSL 3 REQUIRED)
  target_compile_definitions(resumable_civetweb PRIVATE OPENSSL_API_3_0 NO_SSL_DL)
  target_link_libraries(resumable_civetweb PRIVATE OpenSSL::SSL OpenSSL::Crypto)
else()
  target_compile_definitions(resumable_civetweb PRIVATE NO_SSL)
endif()
if("ipv6" IN_LIST _civetweb_features)
  target_compile_definitions(resumable_civetweb PRIVATE USE_IPV6)
endif()
if(NOT "files" IN_LIST _civetweb_features)
  target_compile_definitions(resumable_civetweb PRIVATE NO_FILES NO_CACHING)
endif()
if(NOT "filesystems" IN_LIST _civetweb_features)
  target_compile_definitions(resumable_civetweb PRIVATE NO_FILESYSTEMS
    MG_EXTERNAL_FUNCTION_mg_cry_internal_impl MG_EXTERNAL_FUNCTION_log_access)
endif()
if("websocket" IN_LIST _civetweb_features)
  target_compile_definitions(resumable_civetweb PRIVATE USE_WEBSOCKET)
endif()
set(RESUMABLE_CIVETWEB_HEADER "${_civetweb_src}/include/civetweb.h")
set(RESUMABLE_CIVETWEB_TLS OFF)
if("tls" IN_LIST _civetweb_features)
  set(RESUMABLE_CIVETWEB_TLS ON)
endif()
