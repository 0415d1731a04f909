#!/usr/bin/env bash
# Runs a fuzz target's replay driver over its seeds and past crash inputs.
set -euo pipefail
target="$1"; shift
out=$("$target" "$@" 2>&1) || { echo "$out" | tail -20; echo "FAIL: $target crashed on an input above"; exit 1; }
echo "$out" | tail -1
