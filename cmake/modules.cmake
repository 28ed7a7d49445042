# spanlab_module(NAME DEPS ...): a static library from every src/NAME/*.c.
# A module with no sources yet is an INTERFACE library, so the graph stays valid
# while modules are being written.
function(spanlab_module name)
  cmake_parse_arguments(ARG "" "" "DEPS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/${name}/*.c)
  if(sources)
    add_library(spanlab_${name} STATIC ${sources})
    target_include_directories(spanlab_${name}
      PUBLIC ${PROJECT_SOURCE_DIR}/include
      PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_BINARY_DIR}/generated)
    target_link_libraries(spanlab_${name} PUBLIC ${ARG_DEPS})
  else()
    add_library(spanlab_${name} INTERFACE)
    target_include_directories(spanlab_${name} INTERFACE ${PROJECT_SOURCE_DIR}/include)
    target_link_libraries(spanlab_${name} INTERFACE ${ARG_DEPS})
  endif()
endfunction()

# A module may add build steps of its own (generated code, extra flags) in
# src/NAME/module.cmake, included after its library is declared.
macro(spanlab_module_extras name)
  if(EXISTS ${PROJECT_SOURCE_DIR}/src/${name}/module.cmake)
    include(${PROJECT_SOURCE_DIR}/src/${name}/module.cmake)
  endif()
endmacro()
