#!/usr/bin/env bash
# The trainer's AdamW against torch.optim.AdamW (fused and foreach) on the
# project's torch: 10 steps within 1e-6, and a save + load halfway that
# continues bit-exactly (tests/adamw_parity.py, tests/adamw_steps_main.cc).
set -euo pipefail
steps="$1"; python_sh="$2"
source "$(dirname "$0")/test_lib.sh"
py="$(project_python "$python_sh")"
work="${TEST_TMPDIR:-$(mktemp -d)}"
"$py" "$(dirname "$0")/adamw_parity.py" make "$work"
"$steps" "$work/inputs.pt" "$work/ours.pt"
"$py" "$(dirname "$0")/adamw_parity.py" check "$work"
