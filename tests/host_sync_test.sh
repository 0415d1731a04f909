#!/usr/bin/env bash
# A training step that does not log never reads a tensor on the host: profile
# micro-batches that neither log nor checkpoint (run.profile_steps) and find
# no aten::item / aten::_local_scalar_dense on the training thread, while the
# forward, backward and gradient-clipping operators are all there. Then the
# statistics read later must still be whole: one metrics row per micro-batch.
set -euo pipefail
run="$1"; config="$2"
source "$(dirname "$0")/test_lib.sh"
work="${TEST_TMPDIR:-$(mktemp -d)}"
export GLOG_minloglevel=0
dir="$work/profiled"
"$run" --config="$config" --set=data.dataset.options.cache_dir="$work/cache" --set=trainer.max_steps=10 \
  --set=trainer.log_every=8 --set=trainer.checkpoint_every=0 --set=run.profile_steps=4:8 --run_dir="$dir" \
  > "$work/run.log" 2>&1 || { tail -5 "$work/run.log"; fail "profiled run"; }
ops="$dir/profile/ops.tsv"
[ -s "$ops" ] || fail "no $ops"
[ -s "$dir/profile/trace.json" ] || fail "no trace.json"
python3 -c "import json,sys; t=json.load(open(sys.argv[1])); assert len(t['traceEvents']) > 100, len(t['traceEvents'])" \
  "$dir/profile/trace.json" || fail "trace.json is not a Chrome trace with the step's events"
for op in aten::conv2d aten::mm aten::mse_loss MseLossBackward0 aten::norm; do
  grep -q "^$op	" "$ops" || fail "$op is not in the profile: the window did not cover a training step"
done
syncs=$(awk -F'\t' '$1 == "aten::_local_scalar_dense" { n += $2 } END { print n + 0 }' "$ops")
[ "$syncs" = 0 ] || { head -5 "$ops"; fail "$syncs host synchronisation(s) in micro-batches 4 to 7, which do not log"; }
grep -q "0 host synchronisation(s) on the training thread" "$work/run.log" || fail "the run did not report the count"
rows=$(($(wc -l < "$dir/metrics.csv") - 1))
[ "$rows" = 10 ] || fail "metrics.csv has $rows rows, expected one per micro-batch (10)"
awk -F, 'NR > 1 && ($4 == "" || $4 == "nan") { exit 1 }' "$dir/metrics.csv" || fail "a loss cell is empty or nan"
grep -qE "^achieved_tflops: [0-9.e+-]+$" "$dir/summary.txt" || fail "summary.txt lacks achieved_tflops"
grep -qE "^model_gflop_per_image: [0-9.]+" "$dir/summary.txt" || fail "summary.txt lacks the FLOP count"
echo "ok: micro-batches 4-7: $(awk 'END { print NR - 1 }' "$ops") operators profiled, no host synchronisation; 10 rows"
