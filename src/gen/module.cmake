# The generator's SkyWalking protobuf code, made by protoc-c at build time from
# src/gen/skywalking.proto into the build tree (generated/gen/skywalking.pb-c.{c,h}).
find_program(PROTOC_C NAMES protoc-c REQUIRED)
set(gen_proto ${PROJECT_SOURCE_DIR}/src/gen/skywalking.proto)
set(gen_out ${PROJECT_BINARY_DIR}/generated/gen)
add_custom_command(
  OUTPUT ${gen_out}/skywalking.pb-c.c ${gen_out}/skywalking.pb-c.h
  COMMAND ${CMAKE_COMMAND} -E make_directory ${gen_out}
  COMMAND ${PROTOC_C} --c_out=${gen_out} --proto_path=${PROJECT_SOURCE_DIR}/src/gen ${gen_proto}
  DEPENDS ${gen_proto}
  COMMENT "protoc-c skywalking.proto")
target_sources(spanlab_gen PRIVATE ${gen_out}/skywalking.pb-c.c)
target_include_directories(spanlab_gen PUBLIC ${PROJECT_BINARY_DIR}/generated)
# Generated code is not ours to lint or to hold to -Wextra.
set_source_files_properties(${gen_out}/skywalking.pb-c.c PROPERTIES COMPILE_OPTIONS "-w")
