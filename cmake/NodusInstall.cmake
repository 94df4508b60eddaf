# Installation: the nodus executable, plugins, SDK headers and libraries, and a CMake package
# so that an out-of-tree plugin does find_package(nodus) and links nodus::sdk (and
# nodus::testing, the fakes, for its unit tests).
#
# Two install components make up the package for plugin authors:
#   sdk      nodus::sdk and nodus::testing, their headers, the CMake package (no kernel code);
#   harness  nodus::harness (TestNode, SimCluster) and the static kernel libraries it is built
#            on, found with find_package(nodus COMPONENTS harness).
# `cmake --install <build> --component sdk` installs an SDK without any kernel library.
include(CMakePackageConfigHelpers)

set(NODUS_CMAKE_INSTALL_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/nodus")

set(_nodus_harness_exported nodus_harness nodus_host nodus_loader nodus_config nodus_runtime)
foreach(t IN LISTS _nodus_harness_exported ITEMS nodus_testing)
  if(NOT TARGET ${t})
    message(FATAL_ERROR "NodusInstall: target ${t} is missing")
  endif()
endforeach()
install(TARGETS nodus_testing EXPORT nodusTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}/nodus/static COMPONENT sdk)
# The harness's static kernel dependencies travel in its own export set (link-only; their
# headers are not installed).
install(TARGETS ${_nodus_harness_exported} EXPORT nodusHarnessTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}/nodus/static COMPONENT harness)
install(EXPORT nodusHarnessTargets NAMESPACE nodus:: DESTINATION "${NODUS_CMAKE_INSTALL_DIR}"
        COMPONENT harness)

install(EXPORT nodusTargets NAMESPACE nodus:: DESTINATION "${NODUS_CMAKE_INSTALL_DIR}"
        COMPONENT sdk)
configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/nodusConfig.cmake.in"
  "${CMAKE_CURRENT_BINARY_DIR}/nodusConfig.cmake"
  INSTALL_DESTINATION "${NODUS_CMAKE_INSTALL_DIR}"
  PATH_VARS NODUS_PLUGIN_INSTALL_DIR NODUS_HARNESS_PLUGIN_INSTALL_DIR CMAKE_INSTALL_BINDIR)
write_basic_package_version_file(
  "${CMAKE_CURRENT_BINARY_DIR}/nodusConfigVersion.cmake"
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES
  "${CMAKE_CURRENT_BINARY_DIR}/nodusConfig.cmake"
  "${CMAKE_CURRENT_BINARY_DIR}/nodusConfigVersion.cmake"
  "${PROJECT_SOURCE_DIR}/cmake/NodusWarnings.cmake"
  "${PROJECT_SOURCE_DIR}/cmake/NodusPlugin.cmake"
  DESTINATION "${NODUS_CMAKE_INSTALL_DIR}" COMPONENT sdk)
install(DIRECTORY "${PROJECT_SOURCE_DIR}/configs/" DESTINATION "${CMAKE_INSTALL_DATADIR}/nodus/configs")
