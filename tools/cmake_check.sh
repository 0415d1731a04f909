#!/usr/bin/env bash
# Builds chexworld with CMake as a GPU host without Bazel would (the CUDA
# wheel's libtorch from the project's .venv, the other libraries from the
# system), installs it into a scratch prefix, builds examples/reuse as a CMake
# project with find_package(chexworld) on it, and runs the example and the
# installed runner's --help. Prints "cmake_check: ..." lines with the times.
#   tools/cmake_check.sh [WORK_DIR]       (default: build-cmake-check/ in the checkout, git-ignored)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh > /dev/null
work="${1:-$PWD/build-cmake-check}"
mkdir -p "$work"
py=.venv/bin/python
torch_prefix="$($py -c 'import torch; print(torch.utils.cmake_prefix_path)')"
# ccache serves a second build, also from another clone on the same machine:
# paths under the checkout are compared relative to it (CCACHE_BASEDIR), and
# the precompiled torch header needs -fpch-preprocess and these sloppiness flags.
launcher=()
if command -v ccache > /dev/null; then
  export CCACHE_BASEDIR="$PWD"
  export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_FLAGS=-fpch-preprocess)
  ccache -z > /dev/null
fi
ts=$(date +%s)
cmake -S . -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$torch_prefix" -DCMAKE_INSTALL_PREFIX="$work/install" \
  "${launcher[@]}" > "$work/configure.log" 2>&1 || { cat "$work/configure.log"; exit 1; }
grep -E "chexworld: libtorch" "$work/configure.log" | sed 's/^-- /cmake_check: /'
grep -q "CUDA ON, NCCL ON" "$work/configure.log" || { echo "cmake_check: the CMake build has no CUDA or no NCCL"; exit 1; }
cmake --build "$work/build" -j "$(nproc)" > "$work/build.log" 2>&1 || { tail -40 "$work/build.log"; exit 1; }
cmake --install "$work/build" > /dev/null
echo "cmake_check: configured, built and installed in $(( $(date +%s) - ts )) s$(command -v ccache > /dev/null && echo "; ccache $(ccache -s 2> /dev/null | grep -i -m1 'hits' | tr -s ' ')")"
nm -D "$work/install/lib/libchexworld.so" | grep cudaMemGetInfo > /dev/null ||
  { echo "cmake_check: libchexworld.so does not call cudaMemGetInfo: the CUDA paths were not compiled"; exit 1; }
ts=$(date +%s)
cmake -S examples/reuse -B "$work/reuse" -G Ninja -DCMAKE_PREFIX_PATH="$work/install;$torch_prefix" \
  "${launcher[@]}" > "$work/reuse.log" 2>&1 && cmake --build "$work/reuse" >> "$work/reuse.log" 2>&1 ||
  { cat "$work/reuse.log"; exit 1; }
dicom="$(cd .. && pwd)/shared/data/dicom/RG1_J2KI.dcm"
[ -f "$dicom" ] || dicom=""
"$work/reuse/reuse_demo" $dicom | sed 's/^/cmake_check: reuse_demo: /'
"$work/install/bin/run" --help 2>&1 | head -1 | sed 's/^/cmake_check: installed run: /'
echo "cmake_check: reuse example on the installed package built and ran in $(( $(date +%s) - ts )) s"
