#!/usr/bin/env bash
# The test command: installs what is missing, then builds and runs every test.
#   tools/test.sh [extra bazel test flags]
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh
exec bazel test //... --test_output=errors "$@"
