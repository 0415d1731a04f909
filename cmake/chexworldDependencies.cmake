# What chexworld links, found under CMAKE_PREFIX_PATH (a prefix the user
# names, e.g. an unpacked set of Debian packages: -DCMAKE_PREFIX_PATH=/opt/deps/usr)
# or the system. Used by the build and installed with the package, so that
# find_package(chexworld) finds the same libraries for its users.
#
# Each dependency becomes an INTERFACE target cwdep::<name>: from the
# package's own CMake config or FindXXX module where one is found, else from
# its header and libraries (find_path / find_library), so a prefix that keeps
# only headers and libraries (no cmake/ or pkgconfig/ files) works as well.
#
# Torch comes first, from the PyTorch wheel:
#   -DCMAKE_PREFIX_PATH="$(python -c 'import torch; print(torch.utils.cmake_prefix_path)');<deps prefix>"
include_guard(GLOBAL)
include(CMakeFindDependencyMacro)

# cw_dep(<name> [HEADER <file> [INCLUDE_SUFFIX <dir>]] LIBS <lib>...)
function(cw_dep name)
  cmake_parse_arguments(A "" "HEADER;INCLUDE_SUFFIX" "LIBS" ${ARGN})
  if(TARGET cwdep::${name})
    return()
  endif()
  set(include_dir "")
  if(A_HEADER)
    find_path(CW_${name}_INCLUDE_DIR "${A_HEADER}" PATH_SUFFIXES ${A_INCLUDE_SUFFIX} "")
    if(NOT CW_${name}_INCLUDE_DIR)
      message(FATAL_ERROR "chexworld: ${name}: ${A_HEADER} not found under CMAKE_PREFIX_PATH (${CMAKE_PREFIX_PATH}) "
                          "or the system (Debian: tools/install_deps.sh)")
    endif()
    set(include_dir "${CW_${name}_INCLUDE_DIR}")
  endif()
  set(libs "")
  foreach(l ${A_LIBS})
    find_library(CW_${name}_${l}_LIBRARY NAMES ${l})
    if(NOT CW_${name}_${l}_LIBRARY)
      message(FATAL_ERROR "chexworld: ${name}: library ${l} not found under CMAKE_PREFIX_PATH or the system")
    endif()
    list(APPEND libs "${CW_${name}_${l}_LIBRARY}")
  endforeach()
  add_library(cwdep::${name} INTERFACE IMPORTED GLOBAL)
  set_target_properties(cwdep::${name} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${include_dir}"
                                                  INTERFACE_LINK_LIBRARIES "${libs}")
endfunction()

# ---------------------------------------------------------------- torch
find_package(Torch REQUIRED)
if(Torch_VERSION VERSION_LESS 2.4)
  message(FATAL_ERROR "chexworld needs libtorch 2.4 or later (found ${Torch_VERSION})")
endif()
get_filename_component(CHEXWORLD_TORCH_LIB_DIR "${TORCH_LIBRARY}" DIRECTORY)
get_filename_component(CHEXWORLD_TORCH_DIR "${CHEXWORLD_TORCH_LIB_DIR}" DIRECTORY)
# The wheel's c10 is built without glog; C10_USE_GLOG keeps glog's LOG/CHECK
# (third_party/torch/libtorch.bzl says why).
if(NOT TARGET cwdep::torch)
  add_library(cwdep::torch INTERFACE IMPORTED GLOBAL)
  set_target_properties(cwdep::torch PROPERTIES INTERFACE_LINK_LIBRARIES "${TORCH_LIBRARIES}"
                                                INTERFACE_COMPILE_DEFINITIONS "C10_USE_GLOG")
endif()

# CUDA runtime and NCCL: those of the nvidia-* wheels beside torch (the ones
# libtorch_cuda loads), else CUDA_HOME / /usr/local/cuda and NCCL_HOME.
set(CHEXWORLD_HAVE_CUDA OFF)
set(CHEXWORLD_HAVE_NCCL OFF)
set(CHEXWORLD_CUDA_LIB_DIRS "")
if(EXISTS "${CHEXWORLD_TORCH_LIB_DIR}/libtorch_cuda.so" AND NOT TARGET cwdep::cuda)
  file(GLOB _nv_dirs LIST_DIRECTORIES true "${CHEXWORLD_TORCH_DIR}/../nvidia/*")
  list(SORT _nv_dirs)
  set(_cuda_home "$ENV{CUDA_HOME}")
  if(NOT _cuda_home)
    set(_cuda_home /usr/local/cuda)
  endif()
  set(_roots ${_nv_dirs} "$ENV{NCCL_HOME}" "${_cuda_home}" /usr)
  foreach(r ${_roots})
    if(r AND NOT _cudart AND EXISTS "${r}/include/cuda_runtime_api.h")
      file(GLOB _cudart "${r}/lib/libcudart.so*" "${r}/lib64/libcudart.so*")
      if(_cudart)
        list(SORT _cudart)
        list(GET _cudart 0 _cudart)
        set(_cuda_inc "${r}/include")
      endif()
    endif()
    if(r AND NOT _nccl AND EXISTS "${r}/include/nccl.h")
      file(GLOB _nccl "${r}/lib/libnccl.so*" "${r}/lib64/libnccl.so*" "${r}/lib/x86_64-linux-gnu/libnccl.so*")
      if(_nccl)
        list(SORT _nccl)
        list(GET _nccl 0 _nccl)
        set(_nccl_inc "${r}/include")
      endif()
    endif()
  endforeach()
  if(_cudart)
    get_filename_component(_d "${_cudart}" DIRECTORY)
    list(APPEND CHEXWORLD_CUDA_LIB_DIRS "${_d}")
    add_library(cwdep::cuda INTERFACE IMPORTED GLOBAL)
    set_target_properties(cwdep::cuda PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_cuda_inc}"
                                                 INTERFACE_LINK_LIBRARIES "${_cudart}"
                                                 INTERFACE_COMPILE_DEFINITIONS "CHEXWORLD_HAVE_CUDA")
    set(CHEXWORLD_HAVE_CUDA ON)
    if(_nccl)
      get_filename_component(_d "${_nccl}" DIRECTORY)
      list(APPEND CHEXWORLD_CUDA_LIB_DIRS "${_d}")
      add_library(cwdep::nccl INTERFACE IMPORTED GLOBAL)
      set_target_properties(cwdep::nccl PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_nccl_inc}"
                                                   INTERFACE_LINK_LIBRARIES "${_nccl}"
                                                   INTERFACE_COMPILE_DEFINITIONS "CHEXWORLD_HAVE_NCCL;USE_C10D_NCCL")
      set(CHEXWORLD_HAVE_NCCL ON)
    endif()
  endif()
  message(STATUS "chexworld: CUDA runtime ${_cudart} (${_cuda_inc}), NCCL ${_nccl} (${_nccl_inc})")
endif()
if(NOT TARGET cwdep::cuda)
  add_library(cwdep::cuda INTERFACE IMPORTED GLOBAL)
endif()
if(NOT TARGET cwdep::nccl)
  add_library(cwdep::nccl INTERFACE IMPORTED GLOBAL)
endif()

# ---------------------------------------------------------------- the rest
set(_absl bad_any_cast_impl bad_optional_access bad_variant_access base city civil_time cord cord_internal
    cordz_functions cordz_handle cordz_info cordz_sample_token debugging_internal demangle_internal
    examine_stack exponential_biased graphcycles_internal hash hashtablez_sampler int128 log_severity
    low_level_hash malloc_internal raw_hash_set raw_logging_internal spinlock_wait stacktrace status statusor
    str_format_internal strerror strings strings_internal symbolize synchronization throw_delegate time
    time_zone)
list(TRANSFORM _absl PREPEND absl_)
cw_dep(absl HEADER absl/status/status.h LIBS ${_absl})
cw_dep(glog HEADER glog/logging.h LIBS glog)
cw_dep(gflags HEADER gflags/gflags.h LIBS gflags)
cw_dep(hdf5 HEADER H5Cpp.h INCLUDE_SUFFIX hdf5/serial LIBS hdf5_serial_cpp hdf5_serial)
cw_dep(gdcm HEADER gdcmImageReader.h INCLUDE_SUFFIX gdcm-3.0 LIBS gdcmMSFF gdcmDSED gdcmCommon gdcmDICT gdcmIOD)
# The figures' XML writer.
cw_dep(libxml2 HEADER libxml/xmlwriter.h INCLUDE_SUFFIX libxml2 LIBS xml2)
# ProcessGroupGloo's headers (the wheel carries gloo itself, not its headers).
cw_dep(gloo_headers HEADER gloo/algorithm.h INCLUDE_SUFFIX ../include-gloo)
# The fused CPU attention's cblas_sgemm (OpenBLAS on Debian: libblas.so.3).
cw_dep(blas LIBS libblas.so.3)

find_package(Protobuf REQUIRED)
if(NOT TARGET cwdep::protobuf)
  add_library(cwdep::protobuf INTERFACE IMPORTED GLOBAL)
  set_target_properties(cwdep::protobuf PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${Protobuf_INCLUDE_DIRS}"
                                                   INTERFACE_LINK_LIBRARIES "${Protobuf_LIBRARIES}")
endif()
find_package(PNG REQUIRED)
find_package(JPEG REQUIRED)
find_package(ZLIB REQUIRED)
find_package(Threads REQUIRED)
