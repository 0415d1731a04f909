# Shared by the shell tests: failing with context, and waiting on what a run
# writes (never on the clock).

fail() { echo "FAIL: $*"; exit 1; }

# expect_status WANT CMD...: runs CMD, fails unless it exits with WANT.
expect_status() {
  local want="$1"; shift
  set +e; "$@"; local got=$?; set -e
  [ "$got" = "$want" ] || fail "exit status $got, expected $want: $*"
}

# wait_for_line FILE PATTERN PID: until FILE has a line matching PATTERN;
# fails if process PID ends first (so a run that dies never leaves us waiting).
wait_for_line() {
  local file="$1" pattern="$2" pid="$3"
  until grep -q -- "$pattern" "$file" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || { grep -q -- "$pattern" "$file" 2>/dev/null && return 0; fail "process $pid ended before '$pattern' appeared in $file"; }
    sleep 0.02
  done
}

# wait_for_checkpoints DIR N PID: until DIR/checkpoints holds N checkpoints.
wait_for_checkpoints() {
  local dir="$1" n="$2" pid="$3"
  until [ "$(ls "$dir/checkpoints" 2>/dev/null | grep -c '\.pt$')" -ge "$n" ]; do
    kill -0 "$pid" 2>/dev/null || fail "process $pid ended before $n checkpoints appeared in $dir"
    sleep 0.02
  done
}

# wait_for_rows FILE N PID: until the CSV FILE has N data rows (after its header).
wait_for_rows() {
  local file="$1" n="$2" pid="$3"
  until [ -f "$file" ] && [ "$(($(wc -l < "$file") - 1))" -ge "$n" ]; do
    kill -0 "$pid" 2>/dev/null || fail "process $pid ended before $file had $n rows"
    sleep 0.02
  done
}

# same_run A B: bit-identical exports and loss trajectory (timing columns aside).
same_run() {
  local a="$1" b="$2" what="$3"
  for f in target_encoder.pt encoder.pt; do
    cmp -s "$a/$f" "$b/$f" || fail "$f differs ($what)"
  done
  diff <(cut -d, -f1-12 "$a/metrics.csv") <(cut -d, -f1-12 "$b/metrics.csv") > /dev/null ||
    fail "metrics differ ($what)"
}

# A free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# shared_dir SH: the shared development data folder (../shared beside the
# workspace, or $CHEXWORLD_SHARED_DIR), as the C++ tests find it; "" when
# there is none. SH is @shared_dir//:shared_dir.sh (pass it with $(location)).
shared_dir() {
  local CHEXWORLD_DEFAULT_SHARED_DIR=""
  # shellcheck disable=SC1090
  source "$1"
  local d="${CHEXWORLD_SHARED_DIR:-$CHEXWORLD_DEFAULT_SHARED_DIR}"
  if [ -n "$d" ] && [ -d "$d" ]; then echo "$d"; fi
}

# skip_part WHAT: a part of the test that did not run, in the line the test
# summary (tools/test.sh, .ci/run) collects and counts.
# project_python SH: the project's Python (.venv: the pinned torch, numpy,
# h5py, safetensors, timm). SH is @libtorch//:python.sh. A declared
# dependency: its absence fails the test.
project_python() {
  local CHEXWORLD_PYTHON=""
  # shellcheck disable=SC1090
  source "$1"
  [ -n "$CHEXWORLD_PYTHON" ] && [ -x "$CHEXWORLD_PYTHON" ] ||
    fail "the project's Python environment (.venv) is missing: run tools/install_deps.sh"
  "$CHEXWORLD_PYTHON" -c 'import torch, numpy, h5py, safetensors, timm' ||
    fail "$CHEXWORLD_PYTHON lacks a pinned package: run tools/install_deps.sh"
  echo "$CHEXWORLD_PYTHON"
}

# check_figures DIR MIN PY: every figure under DIR parses as XML and renders
# (rsvg-convert) to a non-blank PNG and a PDF (tests/check_figures.py).
check_figures() {
  command -v rsvg-convert > /dev/null || fail "rsvg-convert is missing (librsvg2-bin: tools/install_deps.sh installs it)"
  "$3" "$(dirname "${BASH_SOURCE[0]}")/check_figures.py" "$1" "$2" --pdf || fail "figures under $1"
}

skip_part() { echo "SKIPPED: $*"; }
