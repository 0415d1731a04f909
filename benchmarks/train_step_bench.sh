#!/usr/bin/env bash
# End-to-end pretraining throughput and peak memory: the runner trains from
# phantom shards through the loader (1 worker thread) for a fixed number of
# steps, in fp32 and bf16, for vit_tiny/128, vit_tiny/224 and vit_small/224,
# as one pass on both threads (trainer.concurrent_shards=1) and as the tiny
# config's one one-thread shard per core (2). The two layouts alternate within
# each repeat, so a drift in the machine's speed affects both alike.
# Prints the steady-state images/s (after the first 3 steps, from metrics.csv;
# median of the repeats) and peak RSS (/usr/bin/time, max over the repeats).
#
#   bazel build //experiments:run && benchmarks/train_step_bench.sh [steps] [repeats] [shard counts]
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/bench_lib.sh
run=bazel-bin/experiments/run
steps="${1:-12}"
repeats="${2:-3}"
layouts="${3:-1 2}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export GLOG_minloglevel=1
printf "%-14s %-5s %-6s %-10s %-7s %-14s %-12s\n" model px batch precision shards "images/s (med)" "peak RSS MB"
for spec in "tiny 128 32" "tiny 224 16" "small 224 8"; do
  set -- $spec
  preset=$1; px=$2; batch=$3
  for precision in FP32 BF16; do
    declare -A rates=() rss=()
    for r in $(seq "$repeats"); do
      for shards in $layouts; do
        dir="$work/$preset-$px-$precision-$shards-$r"
        /usr/bin/time -v "$run" --config=experiments/pretrain/tiny.textproto --run_dir="$dir" \
          --set=model.encoder.options.preset="$preset" --set=model.encoder.options.depth=12 \
          --set=model.encoder.options.image_size="$px" --set=model.encoder.options.patch_size=16 \
          --set=model.predictor.options.embed_dim=192 --set=model.predictor.options.depth=6 \
          --set=data.transform.options.output_size="$px" --set=data.dataset.options.image_size=256 \
          --set=data.dataset.options.num_images=256 --set=data.dataset.options.cache_dir="$work/cache" \
          --set=data.batch_size="$batch" --set=trainer.max_steps="$steps" --set=trainer.checkpoint_every=0 \
          --set=trainer.precision="$precision" --set=trainer.epochs=100 --set=evals= \
          --set=trainer.concurrent_shards="$shards" \
          --set=data.masker.options.min_keep=4 > "$dir.log" 2> "$dir.time" || { tail -5 "$dir.time"; exit 1; }
        rates[$shards]+="$(steady_rate "$dir/metrics.csv" "$batch") "
        kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$dir.time")
        rss[$shards]=$(( kb / 1024 > ${rss[$shards]:-0} ? kb / 1024 : ${rss[$shards]:-0} ))
      done
    done
    for shards in $layouts; do
      med=$(printf "%s\n" ${rates[$shards]} | median)
      printf "%-14s %-5s %-6s %-10s %-7s %-14.1f %-12s\n" "vit_$preset" "$px" "$batch" "$precision" "$shards" "$med" \
        "${rss[$shards]}"
    done
    unset rates rss
  done
done
