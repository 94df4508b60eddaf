# nodus_add_plugin(<target> SOURCES ... [LIBRARIES ...] [OUTPUT_DIR dir] [NO_INSTALL])
#
# Builds a nodus plugin: a shared object named lib<target>.so (nodus_add_plugin(nodus_kv ...)
# makes libnodus_kv.so) that links nodus::sdk only, exports nothing but its entry point, and
# lands in OUTPUT_DIR, else in the plugin directory of the build tree (and of the install tree
# unless NO_INSTALL). The same file is installed with the SDK, so out-of-tree plugins use it
# too after find_package(nodus).
function(nodus_add_plugin target)
  cmake_parse_arguments(ARG "NO_INSTALL" "OUTPUT_DIR" "SOURCES;LIBRARIES" ${ARGN})
  add_library(${target} MODULE ${ARG_SOURCES})
  if(TARGET nodus::sdk)
    target_link_libraries(${target} PRIVATE nodus::sdk ${ARG_LIBRARIES})
  else()
    target_link_libraries(${target} PRIVATE nodus_sdk ${ARG_LIBRARIES})
  endif()
  if(NOT ARG_OUTPUT_DIR)
    if(DEFINED NODUS_PLUGIN_OUTPUT_DIR)
      set(ARG_OUTPUT_DIR "${NODUS_PLUGIN_OUTPUT_DIR}")
    else()
      set(ARG_OUTPUT_DIR "${CMAKE_BINARY_DIR}/plugins")
    endif()
  endif()
  set_target_properties(${target} PROPERTIES
    PREFIX "lib"
    OUTPUT_NAME "${target}"
    LIBRARY_OUTPUT_DIRECTORY "${ARG_OUTPUT_DIR}"
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    # The SDK library lives one directory up from the plugin directory (lib/).
    BUILD_RPATH "$ORIGIN/../..;$ORIGIN/../../lib"
    INSTALL_RPATH "$ORIGIN/../..")
  nodus_target_warnings(${target})
  # What lands in the kernel's plugin directory is what `nodus plugins list` shows, so
  # docs/plugins.md must list it (plugins/CMakeLists.txt).
  if(DEFINED NODUS_PLUGIN_OUTPUT_DIR AND ARG_OUTPUT_DIR STREQUAL NODUS_PLUGIN_OUTPUT_DIR)
    set_property(GLOBAL APPEND PROPERTY NODUS_CATALOG_PLUGINS ${target})
  endif()
  if(NOT ARG_NO_INSTALL AND DEFINED NODUS_PLUGIN_INSTALL_DIR)
    install(TARGETS ${target} LIBRARY DESTINATION "${NODUS_PLUGIN_INSTALL_DIR}")
  endif()
endfunction()
