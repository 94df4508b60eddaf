# Suites that scripts/test.sh runs on more than the dev and asan-ubsan builds. Their cases carry
# the lane's label, and the lane's target builds exactly them, so neither lane has to build the
# whole tree:
#   tsan     (target tsan_suites): the concurrency-heavy suites (executor and event bus, file
#            storage and the append log, the peer transport, the supervisor, the Raft driver,
#            the datagram sockets, the HTTP server and client);
#   release  (target release_suites): the simulation, Raft, ledger, storage, loader and
#            supervisor suites on the optimised build that users run, where NDEBUG is set.
set(NODUS_TSAN_SUITES
  runtime_executor_test runtime_event_bus_test runtime_file_storage_test grpc_transport_test
  supervisor_unit_test supervisor_test raft_driver_test runtime_udp_datagrams_test
  runtime_http_server_test runtime_http_client_test nodus_scoped_services_test)
set(NODUS_RELEASE_SUITES
  nodus_sim_test counter_sim_test gcounter_sim_test raft_core_test raft_driver_test
  raft_plugin_test raft_sim_test raft_crash_disk_test raft_smoke_test raft_failover_test
  ledger_core_test ledger_plugin_test ledger_sim_test runtime_file_storage_test loader_test
  supervisor_test nodus_sdk_check_test raft_conformance_test membership_conformance_test
  dgecho_sim_test nodus_sim_http_test)
if(NODUS_BUILD_TESTS)
  add_custom_target(tsan_suites)
  add_custom_target(release_suites)
endif()

# nodus_add_test(<name> SOURCES ... [LIBRARIES ...] [LABELS ...] [PLUGINS <MACRO>=<target> ...])
# A GoogleTest executable whose cases are registered with CTest one by one. Each PLUGINS entry
# defines MACRO as the path of the plugin target's .so and builds the plugin before the test.
function(nodus_add_test name)
  if(NOT NODUS_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;LIBRARIES;LABELS;PLUGINS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBRARIES} GTest::gmock GTest::gtest_main)
  foreach(entry IN LISTS ARG_PLUGINS)
    string(REGEX MATCH "^([A-Z0-9_]+)=(.+)$" _ "${entry}")
    if(NOT CMAKE_MATCH_1)
      message(FATAL_ERROR "nodus_add_test(${name}): PLUGINS entry '${entry}' is not MACRO=target")
    endif()
    target_compile_definitions(${name} PRIVATE ${CMAKE_MATCH_1}="$<TARGET_FILE:${CMAKE_MATCH_2}>")
    add_dependencies(${name} ${CMAKE_MATCH_2})
  endforeach()
  nodus_target_warnings(${name})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  foreach(lane tsan release)
    string(TOUPPER ${lane} upper)
    if(name IN_LIST NODUS_${upper}_SUITES)
      list(APPEND ARG_LABELS ${lane})
      add_dependencies(${lane}_suites ${name})
    endif()
  endforeach()
  # gtest_discover_tests splits a list value of PROPERTIES into separate arguments, so a case
  # gets one label that joins them with '-' (sim-release); select with ctest -L '(^|-)sim(-|$)'.
  list(JOIN ARG_LABELS "-" label)
  gtest_discover_tests(${name}
    DISCOVERY_TIMEOUT 60
    PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS "${label}")
endfunction()
