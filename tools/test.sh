#!/usr/bin/env bash
# The test command: installs what is missing, then builds and runs every test,
# then lists the parts of tests that were skipped (tools/skipped_parts.sh).
#   tools/test.sh [extra bazel test flags]
set -uo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh || exit 1
bazel test //... --test_output=errors "$@"
rc=$?
skipped="$(tools/skipped_parts.sh)"
if [ -n "$skipped" ]; then
  echo "Parts of tests that did not run:"
  echo "$skipped"
fi
exit "$rc"
