#!/usr/bin/env bash
# Installs what chexworld's build, tests and benchmarks need: Debian packages
# from the archive, and the project's Python environment (.venv) with the
# pinned PyTorch wheel whose libtorch the build links. Idempotent: does
# nothing when everything is present.
#
#   tools/install_deps.sh            # install what is missing
#   tools/install_deps.sh --fuzz     # also clang and its libFuzzer/sanitizer runtimes (tools/fuzz.sh)
#   tools/install_deps.sh --check    # only report; exit 1 if something is missing
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  bazel-bootstrap bazel-rules-java          # Bazel 4.2.3 (offline WORKSPACE mode)
  python3-venv                              # .venv: PyTorch's wheel (libtorch 2.x with CUDA) + test packages
  libopenblas0-openmp                       # BLAS of the fused CPU attention (OpenMP, as libtorch's threads)
  libabsl-dev libgoogle-glog-dev libgflags-dev
  libprotobuf-dev protobuf-compiler
  libhdf5-dev
  libpng-dev libjpeg62-turbo-dev zlib1g-dev  # PNG/JPEG decode and encode
  libgdcm-dev                               # DICOM, incl. JPEG and JPEG 2000 transfer syntaxes
  libgloo-dev                               # headers for ProcessGroupGloo (the wheel carries gloo, not its headers)
  libxml2-dev                               # figures are written through libxml2's XML writer
  librsvg2-bin                              # rsvg-convert: tests render every figure; PDF figures
  libgtest-dev libgmock-dev libbenchmark-dev
  cmake ninja-build ccache                  # the CMake build for GPU hosts without Bazel (CI builds it too)
  time                                      # /usr/bin/time in benchmarks
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

# The virtual environment is current when its stamp holds the requirements' hash.
venv=.venv
requirements=tools/python-requirements.txt
want="$(sha256sum < "$requirements" | cut -d' ' -f1)"
venv_ok() {
  [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" = "$want" ]
}

if [ "${1:-}" = "--check" ]; then
  rc=0
  [ ${#missing[@]} -eq 0 ] || { echo "missing packages: ${missing[*]}"; rc=1; }
  blas_ok || { echo "libblas.so.3 does not point at the OpenMP OpenBLAS"; rc=1; }
  venv_ok || { echo "$venv is missing or does not match $requirements"; rc=1; }
  [ "$rc" -eq 0 ] && echo "all dependencies present"
  exit "$rc"
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

# The Python environment: Debian's python3 (3.11, the wheels' cp311), never the
# system's site-packages. pip keeps downloaded wheels in ~/.cache/pip, so a
# fresh clone on the same machine installs without downloading.
if ! venv_ok; then
  echo "installing the Python environment ($venv) from $requirements"
  rm -f "$venv/.requirements.sha256"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install --disable-pip-version-check --no-input --quiet -r "$requirements"
  echo "$want" > "$venv/.requirements.sha256"
fi
