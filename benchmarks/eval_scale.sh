#!/usr/bin/env bash
# Evaluation memory and time against the number of images. Packs phantom
# shard sets of N images at 64 px (once, not timed; the stored split of the
# 50,000 set has one exact duplicate across train and test, dropped by the
# leakage guard's drop_overlap), then runs on each, under
# /usr/bin/time -v, with a random ViT-Tiny at 64 px (patch 16) on the stored
# split:
#   probe     a linear probe (one streamed encoder pass, 300 full-batch epochs)
#   finetune  one fine-tuning epoch (batch 64), validation and test scoring
# and prints N, evaluator, peak RSS (MB), wall time (s) and the encoder pass's
# images/s (from the run's log; "-" where the binary does not log it).
# --run picks the binary, so one build can be compared with another.
#
#   bazel build //experiments:run && benchmarks/eval_scale.sh [--sizes=10000,50000,112120]
#       [--evaluators=probe,finetune] [--run=bazel-bin/experiments/run] [--work=DIR] [--keep]
set -euo pipefail
cd "$(dirname "$0")/.."
run=bazel-bin/experiments/run
sizes=10000,50000,112120
evaluators=probe,finetune
work=""
keep=0
for arg in "$@"; do
  case "$arg" in
    --sizes=*) sizes="${arg#*=}" ;;
    --evaluators=*) evaluators="${arg#*=}" ;;
    --run=*) run="${arg#*=}" ;;
    --work=*) work="${arg#*=}" ;;
    --keep) keep=1 ;;
    *) echo "unknown argument $arg (see the header of $0)" >&2; exit 2 ;;
  esac
done
[ -x "$run" ] || { echo "no binary at $run: bazel build //experiments:run" >&2; exit 2; }
if [ -z "$work" ]; then
  work="$(mktemp -d)"
  [ "$keep" = 1 ] || trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"
export GLOG_minloglevel=0 GLOG_logtostderr=1

# The evaluation config for N images: evaluator $2 ("probe" or "finetune").
config() {
  local n="$1" kind="$2" data
  data="dataset { name: \"phantom\" options { [type.googleapis.com/chexworld.PhantomDatasetOptions] {
          num_images: $n image_size: 64 cache_dir: \"$work/cache\" } } }
        split: \"stored\" duplicate_max_distance: -1 drop_overlap: true bootstrap: 200"
  cat <<EOF
run { name: "eval_scale" seed: 0 threads: 2 }
model { encoder { name: "vit" options { [type.googleapis.com/chexworld.ViTOptions] {
  preset: "tiny" image_size: 64 patch_size: 16 in_channels: 1 } } } }
EOF
  if [ "$kind" = probe ]; then
    echo "evals { name: \"linear_probe\" options { [type.googleapis.com/chexworld.LinearProbeOptions] {
      data { $data } encoders { name: \"random\" checkpoint: \"random\" } } } }"
  else
    echo "evals { name: \"finetune\" options { [type.googleapis.com/chexworld.FinetuneOptions] {
      data { $data task: \"binary\" positive_labels: \"cardiomegaly\" }
      encoders { name: \"random\" checkpoint: \"random\" } epochs: 1 batch_size: 64 } } }"
  fi
}

printf "%-8s %-9s %-12s %-9s %-16s\n" images evaluator "peak RSS MB" "wall s" "encoder images/s"
IFS=, read -r -a size_list <<<"$sizes"
IFS=, read -r -a eval_list <<<"$evaluators"
for n in "${size_list[@]}"; do
  # Pack the shards first (the probe's data, 1 epoch: not timed), unless a
  # --work folder already holds them.
  if ! ls "$work"/cache/phantom-*-n"$n"-*/manifest.textproto > /dev/null 2>&1; then
    config "$n" probe > "$work/pack-$n.textproto"
    "$run" --config="$work/pack-$n.textproto" --run_dir="$work/pack-$n" \
      --set=evals[0].options.epochs=1 > "$work/pack-$n.log" 2>&1 || { tail -5 "$work/pack-$n.log"; exit 1; }
    rm -rf "$work/pack-$n"
  fi
  for kind in "${eval_list[@]}"; do
    dir="$work/$kind-$n"
    config "$n" "$kind" > "$dir.textproto"
    /usr/bin/time -v "$run" --config="$dir.textproto" --run_dir="$dir" > "$dir.log" 2> "$dir.err" || {
      tail -5 "$dir.err"; exit 1; }
    kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$dir.err")
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$dir.err" |
           awk -F: '{s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.0f", s}')
    rate=$(grep -o 'encoder pass: [0-9]* images in [0-9.]* s ([0-9.]* images/s' "$dir.err" | head -1 |
           sed 's/.*(\([0-9.]*\) images\/s/\1/' || true)
    printf "%-8s %-9s %-12s %-9s %-16s\n" "$n" "$kind" "$((kb / 1024))" "$wall" "${rate:--}"
    [ "$keep" = 1 ] || rm -rf "$dir"
  done
done
