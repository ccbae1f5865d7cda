# Debian source packages as build inputs (libsodium for wasm, CivetWeb): downloaded once into a
# cache folder by apt without touching the system's apt configuration (fetch-debian-source.sh),
# and unpacked with Debian's patches applied by dpkg-source (scripts/setup.sh installs dpkg-dev).

# Sets <out_dsc> to the package's .dsc in <cache_dir>, fetching it first if it is not there.
function(resumable_fetch_debian_source package cache_dir out_dsc)
  execute_process(
    COMMAND bash "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/fetch-debian-source.sh" "${package}" "${cache_dir}"
    RESULT_VARIABLE fetch_result OUTPUT_QUIET)
  if(NOT fetch_result EQUAL 0)
    message(FATAL_ERROR "Could not fetch Debian's ${package} source package into ${cache_dir} (see output above)")
  endif()
  file(GLOB dsc "${cache_dir}/${package}_*.dsc")
  list(GET dsc 0 dsc)
  set(${out_dsc} "${dsc}" PARENT_SCOPE)
endfunction()

# Unpacks <dsc> into <destination> (emptied first), Debian's patches applied.
function(resumable_unpack_debian_source dsc destination)
  file(REMOVE_RECURSE "${destination}")
  execute_process(
    COMMAND dpkg-source --no-check -x "${dsc}" "${destination}"
    RESULT_VARIABLE unpack_result OUTPUT_QUIET)
  if(NOT unpack_result EQUAL 0)
    message(FATAL_ERROR "dpkg-source could not unpack ${dsc}")
  endif()
endfunction()
