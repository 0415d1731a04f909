#!/usr/bin/env bash
# Installs, from Debian's archive, exactly what chexworld's build, tests and
# benchmarks need. Idempotent: does nothing when everything is present.
#
#   tools/install_deps.sh            # install what is missing
#   tools/install_deps.sh --fuzz     # also clang and its libFuzzer/sanitizer runtimes (tools/fuzz.sh)
#   tools/install_deps.sh --check    # only report; exit 1 if something is missing
set -euo pipefail

PACKAGES=(
  bazel-bootstrap bazel-rules-java          # Bazel 4.2.3 (offline WORKSPACE mode)
  libtorch-dev                              # libtorch 1.13.1 (CPU)
  libopenblas0-openmp                       # OpenMP OpenBLAS: ~20x faster than reference BLAS
  libabsl-dev libgoogle-glog-dev libgflags-dev
  libprotobuf-dev protobuf-compiler
  libhdf5-dev
  libpng-dev libjpeg62-turbo-dev zlib1g-dev  # PNG/JPEG decode and encode
  libgdcm-dev                               # DICOM, incl. JPEG and JPEG 2000 transfer syntaxes
  libgloo-dev                               # headers for torch.distributed (c10d) ProcessGroupGloo
  libgtest-dev libgmock-dev libbenchmark-dev
  python3-torch python3-h5py               # interop tests: Python reads our exports
)

if [ "${1:-}" = "--fuzz" ]; then
  PACKAGES+=(clang libclang-rt-14-dev)   # clang 14: libFuzzer, ASan, UBSan (--config=fuzz)
  shift
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

openblas_omp=/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3
blas_ok() {
  [ "$(readlink -f /etc/alternatives/libblas.so.3-x86_64-linux-gnu 2>/dev/null)" = "$(readlink -f "$openblas_omp" 2>/dev/null)" ]
}

if [ "${1:-}" = "--check" ]; then
  [ ${#missing[@]} -eq 0 ] || { echo "missing packages: ${missing[*]}"; exit 1; }
  blas_ok || { echo "libblas.so.3 does not point at the OpenMP OpenBLAS"; exit 1; }
  echo "all dependencies present"; exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Where the pthread OpenBLAS (or the reference BLAS) is also installed, point
# the alternatives at the OpenMP build: libtorch runs on OpenMP, and two thread
# pools on the same cores halve training speed.
if ! blas_ok; then
  echo "pointing libblas.so.3 / liblapack.so.3 at the OpenMP OpenBLAS"
  $SUDO update-alternatives --set libblas.so.3-x86_64-linux-gnu "$openblas_omp"
  $SUDO update-alternatives --set liblapack.so.3-x86_64-linux-gnu \
    /usr/lib/x86_64-linux-gnu/openblas-openmp/liblapack.so.3
fi
