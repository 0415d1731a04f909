#!/usr/bin/env bash
# The CMake build (CMakeLists.txt, cmake/chexworldSources.cmake) compiles the
# same library sources and the same mains as the Bazel build: the source
# files of the binaries' closure in Bazel (a genquery, passed as $1) against
# the lists CMake makes from the source tree (cmake -P
# cmake/print_sources.cmake). A file one build has and the other lacks fails,
# named. Reads the source tree this script lives in (through its runfiles link).
set -euo pipefail
source "$(dirname "$0")/test_lib.sh"
query="$1"
root="$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)"
[ -f "$root/CMakeLists.txt" ] || fail "cannot find the checkout from $0 (resolved to $root)"
command -v cmake > /dev/null || fail "cmake is missing (tools/install_deps.sh installs it)"
work="${TEST_TMPDIR:-$(mktemp -d)}"

# Bazel: //pkg:path/file.cc labels of this repository -> pkg/path/file.cc.
grep -E '^//(chexworld|datasets|experiments|benchmarks)[/:]' "$query" | grep -E '\.(cc|proto)$' |
  sed -E 's|^//||; s|:|/|' | sort -u > "$work/bazel_all"
main_re='(_main\.cc|_bench\.cc)$|^benchmarks/'  # a binary's own sources
grep -E "$main_re" "$work/bazel_all" > "$work/bazel_mains" || true
grep -v -E "$main_re" "$work/bazel_all" > "$work/bazel_library" || true

cmake -DROOT="$root" -P "$root/cmake/print_sources.cmake" > "$work/cmake_out" 2>&1 ||
  { cat "$work/cmake_out"; fail "cmake/print_sources.cmake failed"; }
sed -n 's/^library //p' "$work/cmake_out" | sort -u > "$work/cmake_library"
sed -n 's/^main //p' "$work/cmake_out" | sort -u > "$work/cmake_mains"

ok=1
for kind in library mains; do
  only_bazel="$(comm -23 "$work/bazel_$kind" "$work/cmake_$kind")"
  only_cmake="$(comm -13 "$work/bazel_$kind" "$work/cmake_$kind")"
  [ -z "$only_bazel" ] || { echo "in Bazel's $kind but not CMake's:"; echo "$only_bazel" | sed 's/^/  /'; ok=0; }
  [ -z "$only_cmake" ] || { echo "in CMake's $kind but not Bazel's:"; echo "$only_cmake" | sed 's/^/  /'; ok=0; }
done
[ "$ok" = 1 ] || fail "the CMake and Bazel source lists differ (cmake/chexworldSources.cmake; the genquery in tests/BUILD)"
[ "$(wc -l < "$work/cmake_library")" -gt 50 ] || fail "suspiciously few library sources: $(wc -l < "$work/cmake_library")"
echo "ok: CMake and Bazel build the same $(wc -l < "$work/cmake_library") library sources and $(wc -l < "$work/cmake_mains") mains"
