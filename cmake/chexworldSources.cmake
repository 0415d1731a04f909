# The CMake build's sources, found anew at each configure by the rules the
# Bazel build follows: every .cc and .proto under chexworld/, datasets/ and
# experiments/ is part of the library, except tests, mains, fuzz targets,
# benchmarks, test data and the test-only chexworld/testing/. The binaries are
# the mains listed in CHEXWORLD_BINARIES. //tests:cmake_sources_test holds
# these lists to Bazel's (a genquery of the same binaries' source closure), so
# neither build can gain or lose a file the other does not.
#
#   include(cmake/chexworldSources.cmake)
#   chexworld_sources("${root}" LIB_SOURCES PROTO_SOURCES)

# name=path of main[+path of another source of that binary only], for each
# binary both builds make.
set(CHEXWORLD_BINARIES
  run=experiments/run_main.cc
  sweep=experiments/sweep_main.cc
  launch=experiments/launch_main.cc
  analyze=experiments/analyze_main.cc
  export=experiments/export_main.cc
  embed=experiments/embed_main.cc
  report=experiments/report_main.cc
  pack=datasets/pack_main.cc
  step_phases_bench=benchmarks/step_phases_bench.cc+benchmarks/synthetic_step.cc)

function(chexworld_sources root out_cc out_proto)
  # CONFIGURE_DEPENDS (a file added or removed re-runs the configure step)
  # exists in a build, not in cmake -P.
  set(again CONFIGURE_DEPENDS)
  if(CMAKE_SCRIPT_MODE_FILE)
    set(again "")
  endif()
  file(GLOB_RECURSE cc ${again} RELATIVE "${root}" "${root}/chexworld/*.cc" "${root}/datasets/*.cc"
       "${root}/experiments/*.cc")
  file(GLOB_RECURSE proto ${again} RELATIVE "${root}" "${root}/chexworld/*.proto" "${root}/datasets/*.proto"
       "${root}/experiments/*.proto")
  foreach(var cc proto)
    list(FILTER ${var} EXCLUDE REGEX "(_test|_main|_fuzz|_bench)\\.cc$")
    list(FILTER ${var} EXCLUDE REGEX "(^|/)testdata/")
    list(FILTER ${var} EXCLUDE REGEX "^chexworld/testing/")
    list(SORT ${var})
  endforeach()
  set(${out_cc} ${cc} PARENT_SCOPE)
  set(${out_proto} ${proto} PARENT_SCOPE)
endfunction()
