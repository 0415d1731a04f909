#!/usr/bin/env bash
# The operators one pretraining step dispatches (//benchmarks:op_count, the
# CUDA composition on CPU tensors) stay under a ceiling: half the official
# step's count on the same torch (benchmarks/official_reference_bench.py
# --count_ops: 34,358 at vit_tiny/224, predictor 384x6, bf16, torch 2.15.0),
# and each phase under its own. A change that adds per-tensor launches to the
# optimizer or EMA, or unstacks the views, fails here with the phase named.
set -euo pipefail
source "$(dirname "$0")/test_lib.sh"
op_count="$1"
out="$("$op_count" --preset=tiny --image_size=224 --batch=2 --json 2>/dev/null)" || fail "op_count failed"
json="$(echo "$out" | grep '^{')" || fail "no JSON line in: $out"
count() { echo "$json" | sed -E "s/.*\"$1\": ([0-9]+).*/\1/"; }
check() {  # phase ceiling
  local n; n="$(count "$1")"
  [[ "$n" =~ ^[0-9]+$ ]] || fail "no $1 count in $json"
  [ "$n" -le "$2" ] || fail "$1: $n operators, ceiling $2"
  echo "ok: $1 $n <= $2"
}
check step 17179      # 0.5 x the official 34,358
check forward 7800    # 7,072 when this ceiling was set
check backward 7400   # 6,735
check optimizer 1900  # 1,747: multi-tensor AdamW, clipping, loss scaling
check ema 10          # 2: one lerp over the flat buffer
