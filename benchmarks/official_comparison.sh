#!/usr/bin/env bash
# chexworld against the official CheXWorld PyTorch code, end to end, on the
# same machine, the same radiographs and the same configuration: the
# iwm_dual_easy step (PRETRAIN.md recipe) with vit_tiny/16 at 224 px, a 6-deep
# 192-wide predictor, batch 16, fp32 and bf16.
#   chexworld: HDF5 shards -> loader (decode + dual-view transform + masks in
#              --workers threads) -> step, through //experiments:run.
#   official:  image files -> torch DataLoader (PIL decode + official
#              transform + mask collator in --workers processes) -> step,
#              through benchmarks/official_reference_bench.py.
# chexworld runs in three layouts of the same global batch and masks: one
# process making one pass with all threads; one process running the batch as
# one concurrent shard per core of one thread each (trainer.concurrent_shards);
# and one data-parallel rank per core of one thread each (//experiments:launch).
# Both sides report the steady-state rate (images/s after the first 3 steps),
# the median over --repeats runs, and the ratio to the official.
# The official code does not run under CPU bf16 autocast with torch 1.13
# (layer_norm dtype mismatch), so bf16 has no official figure.
#
#   benchmarks/official_comparison.sh --official_root=/path/to/CheXWorld \
#       [--images=../shared/data/kermany4/train] [--steps=20] [--repeats=3] [--workers=2]
#
# Without --official_root only chexworld's side runs. The official side needs
# Debian's python3-torch, python3-torchvision and python3-pil
# (apt-get install python3-torchvision python3-pil).
set -euo pipefail
cd "$(dirname "$0")/.."
official_root="" images="../shared/data/kermany4/train" steps=20 repeats=3 workers=2
for arg in "$@"; do
  case "$arg" in
    --official_root=*) official_root="${arg#*=}" ;;
    --images=*) images="${arg#*=}" ;;
    --steps=*) steps="${arg#*=}" ;;
    --repeats=*) repeats="${arg#*=}" ;;
    --workers=*) workers="${arg#*=}" ;;
    *) echo "unknown argument $arg" >&2; exit 2 ;;
  esac
done
if [ ! -d "$images" ]; then
  echo "SKIP: no images at $images (the shared kermany4 radiographs); pass --images=DIR" >&2
  exit 0
fi
targets=(//experiments:run //experiments:launch //datasets:pack)
bazel build -c opt "${targets[@]}" >/dev/null 2>&1 || bazel build -c opt "${targets[@]}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
bazel-bin/datasets/pack --input="$images" --output="$work/shards" --size=256 >/dev/null 2>&1

source benchmarks/bench_lib.sh

cores="$(nproc)"
ours() {  # precision layout (pass | shards | ranks)
  local rates=() ranks=1 shards=1
  case "$2" in shards) shards="$cores" ;; ranks) ranks="$cores" ;; esac
  for r in $(seq "$repeats"); do
    local dir="$work/run-$1-$2-$r"
    local args=(--config=experiments/pretrain/kermany4_cpu.textproto
      --set=data.dataset.options.manifest="$work/shards/manifest.textproto"
      --set=model.encoder.options.depth=12 --set=model.encoder.options.image_size=224
      --set=model.predictor.options.depth=6 --set=data.transform.options.output_size=224
      --set=data.masker.options.min_keep=0 --set=data.batch_size=$((16 / ranks))
      --set=trainer.concurrent_shards="$shards"
      --set=run.threads=$(( cores / ranks > 0 ? cores / ranks : 1 ))
      --set=data.num_workers=$(( workers / ranks > 0 ? workers / ranks : 1 ))
      --set=trainer.max_steps=$((steps + 3)) --set=trainer.checkpoint_every=0 --set=trainer.precision="$1" --set=evals=)
    if [ "$ranks" = 1 ]; then
      GLOG_minloglevel=1 bazel-bin/experiments/run --run_dir="$dir" "${args[@]}" >"$dir.log" 2>&1 ||
        { tail -5 "$dir.log" >&2; exit 1; }
    else
      GLOG_minloglevel=1 bazel-bin/experiments/launch --nproc="$ranks" --runner=bazel-bin/experiments/run \
        --run_dir="$dir" -- "${args[@]}" >"$dir.log" 2>&1 || { tail -5 "$dir.log" >&2; exit 1; }
    fi
    rates+=("$(steady_rate "$dir/metrics.csv" 16)")
  done
  printf "%s\n" "${rates[@]}" | median
}

official() {  # precision
  [ -n "$official_root" ] || { echo "-"; return; }
  local rates=()
  for r in $(seq "$repeats"); do
    rates+=("$(/usr/bin/python3 benchmarks/official_reference_bench.py --official_root="$official_root" \
      --images="$images" --mode=files --workers="$workers" --precision="$1" --steps="$steps" --warmup=3 2>/dev/null |
      sed -n 's/.*overall \([0-9.]*\) images.*/\1/p')")
  done
  printf "%s\n" "${rates[@]}" | median
}

official_fp32="$(official fp32)"
ratio() { [ "$2" = "-" ] && echo "-" || awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2fx", a / b}'; }
printf "%-10s %-32s %-12s %-18s %s\n" precision chexworld "images/s" "official images/s" ratio
for precision in FP32 BF16; do
  for layout in pass shards ranks; do
    a="$(ours "$precision" "$layout")"
    b="-"; [ "$precision" = FP32 ] && b="$official_fp32"
    case "$layout" in
      pass) name="1 process, 1 pass x $cores thr" ;;
      shards) name="1 process, $cores shards x 1 thr" ;;
      ranks) name="$cores ranks x 1 thr" ;;
    esac
    printf "%-10s %-32s %-12s %-18s %s\n" "$precision" "$name" "$a" "$b" "$(ratio "$a" "$b")"
  done
done
echo "vit_tiny/16 224 px, predictor 192x6, global batch 16, $workers data workers, $(nproc) cores, median of $repeats runs of $steps steps"
