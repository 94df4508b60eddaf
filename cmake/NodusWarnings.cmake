# nodus_target_warnings(target): the project's warning set, as errors when NODUS_WERROR is on.
# Applied per target so that generated protobuf/gRPC code is not held to it.
function(nodus_target_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Woverloaded-virtual
    -Wimplicit-fallthrough -Wformat=2)
  if(NODUS_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
