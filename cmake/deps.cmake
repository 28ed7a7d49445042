# Every external library comes from a Debian package that scripts/setup.sh installs.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

function(spanlab_pkg target pkg)
  pkg_check_modules(${target}_PC REQUIRED IMPORTED_TARGET ${pkg})
  add_library(SL::${target} ALIAS PkgConfig::${target}_PC)
endfunction()

spanlab_pkg(zstd libzstd)
spanlab_pkg(xxhash libxxhash)
spanlab_pkg(jansson jansson)
spanlab_pkg(protobuf_c libprotobuf-c)
spanlab_pkg(sqlite3 sqlite3)
spanlab_pkg(cmocka cmocka)

# CRoaring ships no pkg-config file in Debian 12.
find_path(ROARING_INCLUDE_DIR roaring/roaring.h REQUIRED)
find_library(ROARING_LIBRARY roaring REQUIRED)
add_library(SL::roaring UNKNOWN IMPORTED)
set_target_properties(SL::roaring PROPERTIES
  IMPORTED_LOCATION "${ROARING_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${ROARING_INCLUDE_DIR}")
