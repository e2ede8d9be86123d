# Every dependency comes from a Debian package (scripts/deps.sh installs them).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(CLI11 REQUIRED)
find_package(tl-expected REQUIRED)
# RFC 4978 COMPRESS=DEFLATE; linked only into proxy/core (deflate_stream).
find_package(ZLIB REQUIRED)
pkg_check_modules(LIBUV REQUIRED IMPORTED_TARGET libuv)
find_library(CRYPT_LIBRARY NAMES crypt REQUIRED)

# BoringSSL from android-libboringssl-dev: headers in /usr/include/android, libraries in
# /usr/lib/<triplet>/android. OpenSSL's own headers may sit in /usr/include too, so the
# BoringSSL include directory must come first and the libraries are taken by full path.
if(CMAKE_LIBRARY_ARCHITECTURE)
  set(_pb_triplet_dirs /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/android)
endif()
file(GLOB _pb_android_dirs LIST_DIRECTORIES true /usr/lib/*/android)
find_path(BORINGSSL_INCLUDE_DIR openssl/base.h
  PATHS /usr/include/android NO_DEFAULT_PATH REQUIRED)
find_library(BORINGSSL_SSL_LIBRARY NAMES ssl libssl.so.0
  PATHS ${_pb_triplet_dirs} ${_pb_android_dirs} NO_DEFAULT_PATH REQUIRED)
find_library(BORINGSSL_CRYPTO_LIBRARY NAMES crypto libcrypto.so.0
  PATHS ${_pb_triplet_dirs} ${_pb_android_dirs} NO_DEFAULT_PATH REQUIRED)
get_filename_component(BORINGSSL_LIBRARY_DIR ${BORINGSSL_SSL_LIBRARY} DIRECTORY)
message(STATUS "BoringSSL: ${BORINGSSL_INCLUDE_DIR}, ${BORINGSSL_SSL_LIBRARY}")

add_library(pb_boringssl INTERFACE)
target_include_directories(pb_boringssl SYSTEM BEFORE INTERFACE ${BORINGSSL_INCLUDE_DIR})
target_link_libraries(pb_boringssl INTERFACE ${BORINGSSL_SSL_LIBRARY} ${BORINGSSL_CRYPTO_LIBRARY})
# The android directory is not on the loader's path: record it in every binary.
set(CMAKE_BUILD_RPATH ${BORINGSSL_LIBRARY_DIR})
set(CMAKE_INSTALL_RPATH ${BORINGSSL_LIBRARY_DIR})

if(POPBRIDGE_TESTS)
  find_package(GTest REQUIRED)
  include(GoogleTest)
endif()
