#!/usr/bin/env bash
# Runs the ablation sweep at a tiny size and checks its results table.
set -euo pipefail
sweep="$1"
config="$2"
dir="${TEST_TMPDIR:-$(mktemp -d)}/sweep"
export GLOG_minloglevel=1
# (The sweep machinery is under test here, not the evaluation: no shift matrix.)
light=(--set=evals[0].options.data.shifts= --set=evals[0].options.data.bootstrap=200)
"$sweep" --sweep="$config" --sweep_dir="$dir" "${light[@]}" \
  --set=trainer.epochs=2 --set=trainer.max_steps=3 --set=trainer.checkpoint_every=0 \
  --set=data.dataset.options.num_images=64 --set=data.dataset.options.cache_dir="$dir/cache" \
  --set=model.encoder.options.depth=1 --set=data.batch_size=8
for v in full no_domain no_global no_offset local_only; do
  grep -q "^| $v |" "$dir/results.md" || { echo "FAIL: $v missing from results.md"; cat "$dir/results.md"
# One report with the variants side by side, and each variant's own.
grep -q "linear_probe across variants" "$dir/report.md" || { echo "FAIL: no side-by-side table in the sweep report"; exit 1; }
[ -s "$dir/report.html" ] && [ -s "$dir/full/report.html" ] || { echo "FAIL: missing report.html"; exit 1; }; exit 1; }
done
head -1 "$dir/results.csv" | grep -q "last_loss" || { echo "FAIL: no last_loss column"; exit 1; }
# local_only has no cross-view terms; full has all four.
grep "^local_only," "$dir/results.csv" | grep -q "objective.name=ijepa"
cat "$dir/results.md"
# One report with the variants side by side, and each variant's own.
grep -q "linear_probe across variants" "$dir/report.md" || { echo "FAIL: no side-by-side table in the sweep report"; exit 1; }
[ -s "$dir/report.html" ] && [ -s "$dir/full/report.html" ] || { echo "FAIL: missing report.html"; exit 1; }
# A second run reuses finished variants.
GLOG_minloglevel=0 "$sweep" --sweep="$config" --sweep_dir="$dir" "${light[@]}" --set=trainer.epochs=2 --set=trainer.max_steps=3 \
  --set=trainer.checkpoint_every=0 --set=data.dataset.options.num_images=64 \
  --set=data.dataset.options.cache_dir="$dir/cache" --set=model.encoder.options.depth=1 --set=data.batch_size=8 2>&1 \
  | grep -c "already finished" | grep -q 5

# Preempted (SIGTERM at the first variant's 2nd micro-batch): the sweep stops
# with status 75 after that variant's checkpoint; re-running it continues and
# ends with the same results as the uninterrupted sweep.
pre="${TEST_TMPDIR:-$(mktemp -d)}/preempted"
small=("${light[@]}" --set=trainer.epochs=2 --set=trainer.max_steps=3 --set=trainer.checkpoint_every=0
       --set=data.dataset.options.num_images=64 --set=data.dataset.options.cache_dir="$dir/cache"
       --set=model.encoder.options.depth=1 --set=data.batch_size=8)
set +e
CHEXWORLD_FAILPOINTS=step:2=term "$sweep" --sweep="$config" --sweep_dir="$pre" "${small[@]}" > "$pre.log" 2>&1
rc=$?
set -e
[ "$rc" = 75 ] || { tail -5 "$pre.log"; echo "FAIL: preempted sweep exited $rc, expected 75"; exit 1; }
grep -q "re-run the sweep with --sweep_dir=$pre" "$pre.log" || { echo "FAIL: no hint to re-run"; exit 1; }
"$sweep" --sweep="$config" --sweep_dir="$pre" "${small[@]}" > "$pre.log" 2>&1 || { tail -5 "$pre.log"; exit 1; }
# Every column but the timing ones (and the FLOP and memory figures of the
# process, which only covered the micro-batches after the preemption).
results() { awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) keep[i] = $i !~ /data_wait|images_per_second|tflops|gflop|peak_|overrides/ }
                     { line = ""; for (i = 1; i <= NF; i++) if (keep[i]) line = line $i ","; print line }' "$1"; }
diff <(results "$dir/results.csv") <(results "$pre/results.csv") ||
  { echo "FAIL: a preempted and continued sweep differs from an uninterrupted one"; exit 1; }
echo ok
