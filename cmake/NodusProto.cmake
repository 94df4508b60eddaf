# nodus_add_proto(<target> IMPORT_DIR <dir> PROTOS <file.proto>... [GRPC])
#
# Generates C++ (and with GRPC, gRPC service) code for the given .proto files, adds it to the
# sources of <target> (which must exist) and puts the generated headers on its public include
# path. protoc runs with IMPORT_DIR as its only import root, so <dir>/a/b.proto generates
# a/b.pb.h, included as "a/b.pb.h". FindProtobuf's protobuf_generate() would put the
# source folder first on the path and change the include names, hence this helper.
# Generated code is compiled with -w: nodus_target_warnings(<target>) then holds only our
# sources to the warning set. Target nodus_generated generates the code of every call.
add_custom_target(nodus_generated)

function(nodus_add_proto target)
  cmake_parse_arguments(ARG "GRPC" "IMPORT_DIR" "PROTOS" ${ARGN})
  if(NOT TARGET ${target})
    message(FATAL_ERROR "nodus_add_proto: target ${target} does not exist")
  endif()
  if(NOT ARG_IMPORT_DIR OR NOT ARG_PROTOS)
    message(FATAL_ERROR "nodus_add_proto(${target}): IMPORT_DIR and PROTOS are required")
  endif()
  set(out_dir "${CMAKE_CURRENT_BINARY_DIR}/generated/${target}")
  file(MAKE_DIRECTORY "${out_dir}")
  set(plugin_args "")
  set(plugin_deps "")
  if(ARG_GRPC)
    set(plugin_args --grpc_out=${out_dir}
                    --plugin=protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin>)
    set(plugin_deps gRPC::grpc_cpp_plugin)
  endif()
  foreach(proto IN LISTS ARG_PROTOS)
    if(NOT EXISTS "${proto}")
      message(FATAL_ERROR "nodus_add_proto(${target}): ${proto} missing")
    endif()
    file(RELATIVE_PATH rel "${ARG_IMPORT_DIR}" "${proto}")
    string(REGEX REPLACE "\\.proto$" "" stem "${rel}")
    set(outs "${out_dir}/${stem}.pb.h" "${out_dir}/${stem}.pb.cc")
    if(ARG_GRPC)
      list(APPEND outs "${out_dir}/${stem}.grpc.pb.h" "${out_dir}/${stem}.grpc.pb.cc")
    endif()
    add_custom_command(
      OUTPUT ${outs}
      COMMAND protobuf::protoc --cpp_out=${out_dir} ${plugin_args} -I "${ARG_IMPORT_DIR}"
              "${proto}"
      DEPENDS "${proto}" protobuf::protoc ${plugin_deps}
      COMMENT "Generating C++ code for ${rel} (${target})"
      VERBATIM)
    target_sources(${target} PRIVATE ${outs})
    set_source_files_properties(${outs} PROPERTIES COMPILE_OPTIONS -w)
    # Tools that read sources without building them (scripts/tidy.sh) need the headers first.
    string(MAKE_C_IDENTIFIER "${target}_${stem}_generated" gen_target)
    add_custom_target(${gen_target} DEPENDS ${outs})
    add_dependencies(nodus_generated ${gen_target})
  endforeach()
  target_include_directories(${target} SYSTEM PUBLIC "$<BUILD_INTERFACE:${out_dir}>")
  set_property(TARGET ${target} PROPERTY NODUS_PROTO_OUT_DIR "${out_dir}")
endfunction()
