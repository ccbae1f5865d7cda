# resumable_embed_files(<target> NAMESPACE <ns> FILES <url>=<path> ... DEPENDS <targets>)
# Adds a generated source to <target> that defines `<ns>::embedded_assets()` (see
# resumable/embedded_asset.h). Regenerated whenever one of the files changes.
function(resumable_embed_files target)
  cmake_parse_arguments(EMBED "" "NAMESPACE" "FILES;DEPENDS" ${ARGN})
  set(output "${CMAKE_CURRENT_BINARY_DIR}/${target}_embedded_assets.cpp")
  set(paths "")
  foreach(item IN LISTS EMBED_FILES)
    string(FIND "${item}" "=" eq)
    math(EXPR start "${eq} + 1")
    string(SUBSTRING "${item}" ${start} -1 path)
    list(APPEND paths "${path}")
  endforeach()
  list(JOIN EMBED_FILES "|" files_arg)
  add_custom_command(
    OUTPUT "${output}"
    COMMAND ${CMAKE_COMMAND} -DOUTPUT=${output} -DNAMESPACE=${EMBED_NAMESPACE} "-DFILES=${files_arg}"
            -P "${PROJECT_SOURCE_DIR}/cmake/embed_files.cmake"
    DEPENDS ${paths} ${EMBED_DEPENDS} "${PROJECT_SOURCE_DIR}/cmake/embed_files.cmake"
    COMMENT "Embedding ${target} assets"
    VERBATIM)
  target_sources(${target} PRIVATE "${output}")
endfunction()
