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
echo ok
