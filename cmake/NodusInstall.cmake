# Installation: the nodus executable, plugins, SDK headers and libraries, and a CMake package
# so that an out-of-tree plugin does find_package(nodus) and links nodus::sdk (and
# nodus::testing for its unit tests).
include(CMakePackageConfigHelpers)

set(NODUS_CMAKE_INSTALL_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/nodus")

# nodus::testing is a static library built on kernel code; its static dependencies travel in
# the same export set (link-only; their headers are not installed).
set(_nodus_exported nodus_testing nodus_host nodus_loader nodus_config nodus_runtime)
foreach(t IN LISTS _nodus_exported)
  if(NOT TARGET ${t})
    message(FATAL_ERROR "NodusInstall: target ${t} is missing")
  endif()
endforeach()
install(TARGETS ${_nodus_exported} EXPORT nodusTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}/nodus/static)

install(EXPORT nodusTargets NAMESPACE nodus:: DESTINATION "${NODUS_CMAKE_INSTALL_DIR}")
configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/nodusConfig.cmake.in"
  "${CMAKE_CURRENT_BINARY_DIR}/nodusConfig.cmake"
  INSTALL_DESTINATION "${NODUS_CMAKE_INSTALL_DIR}"
  PATH_VARS NODUS_PLUGIN_INSTALL_DIR CMAKE_INSTALL_BINDIR)
write_basic_package_version_file(
  "${CMAKE_CURRENT_BINARY_DIR}/nodusConfigVersion.cmake"
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES
  "${CMAKE_CURRENT_BINARY_DIR}/nodusConfig.cmake"
  "${CMAKE_CURRENT_BINARY_DIR}/nodusConfigVersion.cmake"
  "${PROJECT_SOURCE_DIR}/cmake/NodusWarnings.cmake"
  "${PROJECT_SOURCE_DIR}/cmake/NodusPlugin.cmake"
  DESTINATION "${NODUS_CMAKE_INSTALL_DIR}")
install(DIRECTORY "${PROJECT_SOURCE_DIR}/configs/" DESTINATION "${CMAKE_INSTALL_DATADIR}/nodus/configs")
