#!/usr/bin/env bash
# The main job on built-in defaults: installs what is missing, builds, and runs
# the tiny experiment end to end (no downloads). Extra flags go to the runner.
#   tools/quickstart.sh [--set path=value ...]
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh
exec bazel run //experiments:run -- --config=experiments/pretrain/tiny.textproto "$@"
