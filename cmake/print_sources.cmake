# Prints the CMake build's source lists, one path per line, for
# //tests:cmake_sources_test:  cmake -DROOT=<checkout> -P cmake/print_sources.cmake
include("${CMAKE_CURRENT_LIST_DIR}/chexworldSources.cmake")
chexworld_sources("${ROOT}" cc proto)
foreach(f ${cc} ${proto})
  message("library ${f}")
endforeach()
foreach(b ${CHEXWORLD_BINARIES})
  string(REPLACE "=" ";" nm "${b}")
  list(GET nm 1 main)
  message("main ${main}")
endforeach()
