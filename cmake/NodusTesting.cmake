# The suites that the ThreadSanitizer lane of scripts/test.sh runs: the concurrency-heavy ones
# (executor and event bus, file storage and the append log, the peer transport, the supervisor,
# the Raft driver). Their cases carry the label "tsan", and the target `tsan_suites` builds
# exactly these, so the tsan preset never has to build the whole tree.
set(NODUS_TSAN_SUITES
  runtime_executor_test runtime_event_bus_test runtime_file_storage_test grpc_transport_test
  supervisor_unit_test supervisor_test raft_driver_test)
if(NODUS_BUILD_TESTS)
  add_custom_target(tsan_suites)
endif()

# nodus_add_test(<name> SOURCES ... [LIBRARIES ...] [LABELS ...])
# A GoogleTest executable whose cases are registered with CTest one by one.
function(nodus_add_test name)
  if(NOT NODUS_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;LIBRARIES;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBRARIES} GTest::gmock GTest::gtest_main)
  nodus_target_warnings(${name})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  if(name IN_LIST NODUS_TSAN_SUITES)
    list(APPEND ARG_LABELS tsan)
    add_dependencies(tsan_suites ${name})
  endif()
  gtest_discover_tests(${name}
    DISCOVERY_TIMEOUT 60
    PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS "${ARG_LABELS}")
endfunction()
