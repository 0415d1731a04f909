#!/usr/bin/env bash
# Two processes (ProcessGroupGloo) with batch 4 each must match one process
# with batch 8: same samples, masks, and averaged gradients, within float
# tolerance (the all-reduce sums in another order).
set -euo pipefail
run="$1"; launch="$2"; compare="$3"; config="$4"
work="${TEST_TMPDIR:-$(mktemp -d)}"
export GLOG_minloglevel=1
common=(--config="$config" --set=data.dataset.options.cache_dir="$work/cache" --set=trainer.epochs=3
        --set=trainer.checkpoint_every=0 --set=run.threads=1 --set=data.num_workers=1)
"$run" "${common[@]}" --set=data.batch_size=8 --run_dir="$work/single"
"$launch" --nproc=2 --runner="$run" --run_dir="$work/ddp" -- "${common[@]}" --set=data.batch_size=4
[ -s "$work/ddp/target_encoder.pt" ] || { echo "FAIL: no export from rank 0"; exit 1; }
"$compare" "$work/single/target_encoder.pt" "$work/ddp/target_encoder.pt" 1e-4
"$compare" "$work/single/encoder.pt" "$work/ddp/encoder.pt" 1e-4
# Same number of steps and nearly the same logged losses.
[ "$(wc -l < "$work/single/metrics.csv")" = "$(wc -l < "$work/ddp/metrics.csv")" ]
# AdamW hides a gradient's scale from the parameters: compare the logged
# losses and gradient norms (relative 1e-3) as well.
same_column() {  # column, a.csv, b.csv
  paste -d, "$2" "$3" | awk -F, -v col="$1" '
    NR == 1 { n = NF / 2; for (i = 1; i <= n; i++) if ($i == col) c = i; if (!c) { print "no column " col; exit 1 } next }
    { a = $c; b = $(c + n); if (a == "nan" && b == "nan") next
      d = a - b; if (d < 0) d = -d; s = (a < 0 ? -a : a) + 1e-12
      if (d / s > 1e-3) { print "FAIL: " col " differs at row " NR ": " a " vs " b; bad = 1; exit 1 } }
    END { exit bad }'
}
for col in loss grad_norm; do same_column "$col" "$work/single/metrics.csv" "$work/ddp/metrics.csv"; done
echo "ok: 2 ranks of batch 4 match 1 process of batch 8"

# The same inside one process: batch 8 as 2 concurrent shards of 4.
"$run" "${common[@]}" --set=data.batch_size=8 --set=trainer.concurrent_shards=2 --run_dir="$work/shards"
"$compare" "$work/single/target_encoder.pt" "$work/shards/target_encoder.pt" 1e-4
"$compare" "$work/single/encoder.pt" "$work/shards/encoder.pt" 1e-4
[ "$(wc -l < "$work/single/metrics.csv")" = "$(wc -l < "$work/shards/metrics.csv")" ]
for col in loss grad_norm; do same_column "$col" "$work/single/metrics.csv" "$work/shards/metrics.csv"; done
echo "ok: 2 concurrent shards of batch 4 match 1 pass of batch 8"

# Shard settings that cannot hold fail before any work, naming the field.
expect_error() {  # message, then arguments
  local want="$1"; shift
  if "$run" "${common[@]}" --run_dir="$work/bad" "$@" > "$work/bad.log" 2>&1; then
    echo "FAIL: accepted $*"; exit 1
  fi
  grep -q "$want" "$work/bad.log" || { echo "FAIL: '$want' not in:"; tail -3 "$work/bad.log"; exit 1; }
  [ ! -e "$work/bad/metrics.csv" ] || { echo "FAIL: $* trained before failing"; exit 1; }
}
expect_error "trainer.concurrent_shards = 3 does not divide data.batch_size = 8" \
  --set=data.batch_size=8 --set=trainer.concurrent_shards=3
expect_error "needs model.encoder.options.drop_path_rate = 0" \
  --set=data.batch_size=8 --set=trainer.concurrent_shards=2 --set=model.encoder.options.drop_path_rate=0.1
echo ok
