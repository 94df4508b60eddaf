# nodus_target_warnings(target): the project's one warning set, as errors when NODUS_WERROR is
# on. Every target of ours calls it (nodus_add_plugin, nodus_add_test and nodus_add_fuzzer do so
# themselves), and the installed package includes this file, so out-of-tree plugins get the
# same set. Generated protobuf/gRPC code in a target is compiled with -w by nodus_add_proto():
# it is not ours to fix.
set(NODUS_WARNING_FLAGS
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Woverloaded-virtual
  -Wimplicit-fallthrough -Wformat=2)
function(nodus_target_warnings target)
  target_compile_options(${target} PRIVATE ${NODUS_WARNING_FLAGS})
  if(NODUS_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
