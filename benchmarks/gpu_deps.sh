#!/usr/bin/env bash
# Packs, on a Debian 12 machine, the libraries the CMake build links besides
# libtorch into one tarball for a GPU host that has PyTorch, CMake and a
# compiler but none of them (benchmarks/gpu_check.sh --deps=TAR unpacks it).
# The Debian packages are downloaded and unpacked (nothing is installed into
# /), with the runtime closure of a CMake build's binaries (ldd), and pruned
# to headers, libraries, their link symlinks and protoc.
#
#   cmake -S . -B build -G Ninja -DCMAKE_PREFIX_PATH=... && cmake --build build
#   benchmarks/gpu_deps.sh build /tmp/chexworld_deps.tar.xz
set -euo pipefail
build="${1:?usage: gpu_deps.sh CMAKE_BUILD_DIR OUT.tar.xz}"
out="${2:?usage: gpu_deps.sh CMAKE_BUILD_DIR OUT.tar.xz}"
[ -x "$build/run" ] || { echo "error: $build/run is missing: build with CMake first" >&2; exit 1; }
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# What the build compiles against (headers, link symlinks, protoc).
pkgs=(libabsl-dev libgoogle-glog-dev libgflags-dev libprotobuf-dev protobuf-compiler libprotoc32
      libhdf5-dev libgdcm-dev libpng-dev libjpeg62-turbo-dev zlib1g-dev libgloo-dev libxml2-dev
      libopenblas0-openmp libopenblas-dev)
# What the binaries load, except glibc, the GCC runtime and what the PyTorch wheel brings.
skip='^(linux-vdso|ld-linux|libc\.so|libm\.so|libmvec|libpthread|libdl\.so|librt\.so|libresolv|libutil|libstdc\+\+|libgcc_s|libgomp|libtorch|libc10|libshm|libchexworld|libnccl|libcu|libnv)'
libs=$(for b in "$build"/run "$build"/libchexworld.so; do ldd "$b"; done | awk '$3 ~ /^\// {print $1" "$3}' |
       grep -v -E "$skip" | grep -v -- '/.venv/\|site-packages' | sort -u)
runtime=$(for p in $(echo "$libs" | awk '{print $2}'); do
  r="$(readlink -f "$p")"
  dpkg -S "$r" 2> /dev/null || dpkg -S "${r/#\/usr\/lib\//\/lib\/}" 2> /dev/null || echo "unowned: $p" >&2
done | cut -d: -f1 | sort -u | grep -v -E '^(libc6|libstdc\+\+6|libgcc-s1)$' || true)
echo "packages: ${pkgs[*]} $runtime"
mkdir -p "$work/debs" "$work/root"
(cd "$work/debs" && apt-get download "${pkgs[@]}" $runtime > /dev/null)
for f in "$work"/debs/*.deb; do dpkg -x "$f" "$work/root"; done
u="$work/root/usr"
l="$u/lib/x86_64-linux-gnu"
if [ -d "$work/root/lib/x86_64-linux-gnu" ]; then  # usrmerge: some libraries still ship under /lib
  cp -a "$work/root/lib/x86_64-linux-gnu/." "$l/" && rm -rf "$work/root/lib"
fi
rm -rf "$u/share" "$work/root/etc" "$l/gconv"
find "$u" -name '*.a' -delete
# The OpenMP OpenBLAS as libblas.so.3 (the alternatives link that dpkg -x does not make).
ln -sf openblas-openmp/libblas.so.3 "$l/libblas.so.3"
# gloo's headers apart from the rest (only ProcessGroupGloo's translation unit needs them).
mkdir -p "$u/include-gloo" && mv "$u/include/gloo" "$u/include-gloo/"
tar -C "$work/root" -cJf "$out" usr
echo "wrote $out ($(du -h "$out" | cut -f1))"
