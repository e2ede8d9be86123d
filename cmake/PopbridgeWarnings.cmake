# Warning flags shared by every popbridge target (STYLE.md 9.3).
add_library(pb_warnings INTERFACE)
target_compile_options(pb_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
  -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Woverloaded-virtual
  -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
if(POPBRIDGE_WERROR)
  target_compile_options(pb_warnings INTERFACE -Werror)
endif()

# pb_add_library(NAME DIR... [LINKS ...] [PRIVATE_LINKS ...]): a static library from every
# .cc under the given directories (relative to the calling CMakeLists.txt).
function(pb_add_library name)
  cmake_parse_arguments(ARG "" "" "LINKS;PRIVATE_LINKS" ${ARGN})
  set(sources)
  foreach(dir IN LISTS ARG_UNPARSED_ARGUMENTS)
    file(GLOB_RECURSE dir_sources CONFIGURE_DEPENDS ${dir}/*.cc)
    list(APPEND sources ${dir_sources})
  endforeach()
  if(NOT sources)
    # A layer with headers only so far.
    add_library(${name} INTERFACE)
    target_include_directories(${name} INTERFACE ${POPBRIDGE_ROOT})
    target_link_libraries(${name} INTERFACE ${ARG_LINKS})
    return()
  endif()
  add_library(${name} STATIC ${sources})
  target_include_directories(${name} PUBLIC ${POPBRIDGE_ROOT})
  target_link_libraries(${name} PUBLIC ${ARG_LINKS} PRIVATE pb_warnings ${ARG_PRIVATE_LINKS})
endfunction()

# pb_add_test(NAME DIR LINKS ...): one GoogleTest binary from every *_test.cc under DIR.
function(pb_add_test name dir)
  cmake_parse_arguments(ARG "" "" "LINKS" ${ARGN})
  file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${dir}/*_test.cc)
  if(NOT sources)
    return()
  endif()
  add_executable(${name} ${sources})
  target_link_libraries(${name} PRIVATE ${ARG_LINKS} GTest::gtest GTest::gmock GTest::gtest_main pb_warnings)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC 12 at -O2 misreads the moved-from unique_ptr inside tl::expected results in the
    # tests as a delete of a non-heap object; ASan checks the real thing.
    target_compile_options(${name} PRIVATE -Wno-free-nonheap-object)
  endif()
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS unit)
endfunction()
