#!/usr/bin/env bash
# Runs the test suite under AddressSanitizer + UndefinedBehaviorSanitizer
# (gcc, --config=asan), in its own output base.
#   tools/asan.sh [bazel test targets, default //...]
set -euo pipefail
cd "$(dirname "$0")/.."
supp="$PWD/tools/sanitizers/lsan.supp"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(//...)
exec bazel --output_base="${CHEXWORLD_ASAN_OUTPUT_BASE:-$HOME/.cache/chexworld-asan-output}" test --config=asan --symlink_prefix=/ \
  --test_env=ASAN_OPTIONS="detect_leaks=1:detect_container_overflow=0:abort_on_error=1" \
  --test_env=LSAN_OPTIONS="suppressions=$supp:print_suppressions=0" \
  --test_env=UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
  --test_output=errors "${targets[@]}"
