# nodus_add_fuzzer(<name> SOURCES <file.cc>... LIBRARIES <lib>... CORPUS <dir>)
#
# One fuzz target, built two ways from the same LLVMFuzzerTestOneInput source:
#   - with NODUS_BUILD_FUZZ (clang, the `fuzz` preset): <name>_fuzzer, a libFuzzer binary,
#     part of the `nodus_fuzzers` target, and a CTest `<name>_fuzz_run` (label fuzz-run) that
#     fuzzes for NODUS_FUZZ_RUN_SECONDS starting from CORPUS (new inputs go to a folder of the
#     build tree, never into the committed corpus);
#   - with NODUS_BUILD_TESTS (every test build): <name>_fuzz_regression, which replays every
#     file of CORPUS once through fuzz_regression_main.cc, as the CTest of the same name
#     (label fuzz). An empty or missing corpus fails.
set(NODUS_FUZZ_RUN_SECONDS 10 CACHE STRING "How long each <name>_fuzz_run test fuzzes")
set(_nodus_fuzz_regression_main "${CMAKE_CURRENT_LIST_DIR}/fuzz_regression_main.cc")
if(NODUS_BUILD_FUZZ)
  add_custom_target(nodus_fuzzers)
endif()

function(nodus_add_fuzzer name)
  cmake_parse_arguments(ARG "" "CORPUS" "SOURCES;LIBRARIES" ${ARGN})
  if(NOT ARG_SOURCES OR NOT ARG_CORPUS)
    message(FATAL_ERROR "nodus_add_fuzzer(${name}): SOURCES and CORPUS are required")
  endif()
  get_filename_component(corpus "${ARG_CORPUS}" ABSOLUTE)
  if(NOT IS_DIRECTORY "${corpus}")
    message(FATAL_ERROR "nodus_add_fuzzer(${name}): corpus ${corpus} missing")
  endif()
  if(NODUS_BUILD_FUZZ)
    add_executable(${name}_fuzzer ${ARG_SOURCES})
    target_link_libraries(${name}_fuzzer PRIVATE ${ARG_LIBRARIES})
    target_link_options(${name}_fuzzer PRIVATE -fsanitize=fuzzer)
    nodus_target_warnings(${name}_fuzzer)
    add_dependencies(nodus_fuzzers ${name}_fuzzer)
    set(work "${CMAKE_CURRENT_BINARY_DIR}/${name}_fuzz_corpus")
    file(MAKE_DIRECTORY "${work}")
    add_test(NAME ${name}_fuzz_run
      COMMAND ${name}_fuzzer -max_total_time=${NODUS_FUZZ_RUN_SECONDS} -print_final_stats=1
              "${work}" "${corpus}")
    set_tests_properties(${name}_fuzz_run PROPERTIES LABELS fuzz-run
      TIMEOUT 300)
  endif()
  if(NODUS_BUILD_TESTS)
    add_executable(${name}_fuzz_regression ${ARG_SOURCES} "${_nodus_fuzz_regression_main}")
    target_link_libraries(${name}_fuzz_regression PRIVATE ${ARG_LIBRARIES})
    nodus_target_warnings(${name}_fuzz_regression)
    add_test(NAME ${name}_fuzz_regression COMMAND ${name}_fuzz_regression "${corpus}")
    set_tests_properties(${name}_fuzz_regression PROPERTIES LABELS fuzz TIMEOUT 120)
  endif()
endfunction()
