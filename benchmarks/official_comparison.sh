#!/usr/bin/env bash
# chexworld against the official CheXWorld PyTorch code, end to end, on the
# same machine, the same radiographs and the same configuration: the
# iwm_dual_easy step (PRETRAIN.md recipe: multi-multiblock masks, dual views,
# 4 predictor passes), 12-deep encoder, 6-deep predictor (192 wide for
# vit_tiny, 384 for vit_small), fp32 and bf16.
#   chexworld: HDF5 shards -> loader (decode + dual-view transform + masks in
#              --workers threads) -> step, through //experiments:run.
#   official:  image files -> torch DataLoader (PIL decode + official
#              transform + mask collator in --workers processes) -> step,
#              through benchmarks/official_reference_bench.py.
# Each side runs in the layouts a user would pick on this machine, with the
# same global batch:
#   chexworld  pass    1 process, one pass on all cores' threads
#              shards  1 process, one concurrent shard per core, 1 thread each
#              ranks   one data-parallel rank per core (//experiments:launch)
#   official   1proc   1 process, torch intra-op threads = cores
#              ranks   one DDP rank per core over Gloo, 1 thread each
# bf16 on the official side is CPU autocast with CUDA autocast's layer_norm
# policy (fp32) applied in the driver (see official_reference_bench.py).
# Masks: min_keep 10, or 4 at grids of 8x8 and below where the official
# collator loops forever with 10; chexworld's automatic min_keep (0) and the
# driver's default apply the same rule.
# Repeats are interleaved: every layout of a cell runs once before any runs
# twice. A figure is the median steady-state rate (images/s after the first
# 3 steps) over the repeats; peak RSS is the median of the repeats' peaks,
# summed over ranks (chexworld: /usr/bin/time of each process, data threads
# included; official: the training processes, DataLoader workers excluded).
# The summary sets each side's best layout against the other's.
#
#   benchmarks/official_comparison.sh --official_root=/path/to/CheXWorld \
#       [--images=../shared/data/kermany4/train] [--steps=10] [--repeats=3] [--workers=2]
#       [--configs=tiny:128:32,tiny:224:16,small:224:8] [--precisions=fp32,bf16]
#
# Without --official_root only chexworld's side runs. The official side needs
# torch, torchvision and Pillow: the project's .venv (the torch chexworld links).
set -euo pipefail
cd "$(dirname "$0")/.."
official_root="" images="../shared/data/kermany4/train" steps=10 repeats=3 workers=2
configs="tiny:128:32,tiny:224:16,small:224:8" precisions="fp32,bf16"
for arg in "$@"; do
  case "$arg" in
    --official_root=*) official_root="${arg#*=}" ;;
    --images=*) images="${arg#*=}" ;;
    --steps=*) steps="${arg#*=}" ;;
    --repeats=*) repeats="${arg#*=}" ;;
    --workers=*) workers="${arg#*=}" ;;
    --configs=*) configs="${arg#*=}" ;;
    --precisions=*) precisions="${arg#*=}" ;;
    *) echo "unknown argument $arg" >&2; exit 2 ;;
  esac
done
if [ ! -d "$images" ]; then
  echo "SKIP: no images at $images (the shared kermany4 radiographs); pass --images=DIR" >&2
  exit 0
fi
[ -x /usr/bin/time ] || { echo "error: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }
targets=(//experiments:run //experiments:launch //datasets:pack)
bazel build -c opt "${targets[@]}" >/dev/null 2>&1 || bazel build -c opt "${targets[@]}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
bazel-bin/datasets/pack --input="$images" --output="$work/shards" --size=256 >/dev/null 2>&1
run_bin="$(pwd)/bazel-bin/experiments/run"

source benchmarks/bench_lib.sh

cores="$(nproc)"
port=29581

# One chexworld run; appends "images/s peak_rss_mb" to $out.
#   ours OUT PRESET PX BATCH PRECISION LAYOUT
ours() {
  local out="$1" preset="$2" px="$3" batch="$4" precision="$5" layout="$6" ranks=1 shards=1
  case "$layout" in shards) shards="$cores" ;; ranks) ranks="$cores" ;; esac
  local dir="$work/run-$(basename "$out")-$RANDOM$RANDOM" pred=192
  [ "$preset" = small ] && pred=384
  mkdir -p "$dir.rss"
  # Each process (one, or one per rank) under /usr/bin/time, its peak in a file.
  printf '#!/usr/bin/env bash\nexec /usr/bin/time -f %%M -o "%s/$$" "%s" "$@"\n' "$dir.rss" "$run_bin" >"$dir.runner"
  chmod +x "$dir.runner"
  local args=(--config=experiments/pretrain/kermany4_cpu.textproto
    --set=data.dataset.options.manifest="$work/shards/manifest.textproto"
    --set=model.encoder.options.preset="$preset" --set=model.encoder.options.depth=12
    --set=model.encoder.options.image_size="$px" --set=data.transform.options.output_size="$px"
    --set=model.predictor.options.embed_dim="$pred" --set=model.predictor.options.depth=6
    --set=data.masker.options.min_keep=0 --set=data.batch_size=$((batch / ranks))
    --set=trainer.concurrent_shards="$shards"
    --set=run.threads=$(( cores / ranks > 0 ? cores / ranks : 1 ))
    --set=data.num_workers=$(( workers / ranks > 0 ? workers / ranks : 1 ))
    --set=trainer.max_steps=$((steps + 3)) --set=trainer.checkpoint_every=0
    --set=trainer.precision="${precision^^}" --set=evals=)
  if [ "$ranks" = 1 ]; then
    GLOG_minloglevel=1 "$dir.runner" --run_dir="$dir" "${args[@]}" >"$dir.log" 2>&1 ||
      { tail -5 "$dir.log" >&2; exit 1; }
  else
    GLOG_minloglevel=1 bazel-bin/experiments/launch --nproc="$ranks" --runner="$dir.runner" \
      --run_dir="$dir" -- "${args[@]}" >"$dir.log" 2>&1 || { tail -5 "$dir.log" >&2; exit 1; }
  fi
  local rss
  rss="$(cat "$dir.rss"/* | awk '{s += $1} END {printf "%.0f", s / 1024}')"
  echo "$(steady_rate "$dir/metrics.csv" "$batch") $rss" >>"$out"
  rm -rf "$dir" "$dir.rss" "$dir.runner" "$dir.log"
}

# One official run; appends "images/s peak_rss_mb" to $out.
#   official OUT PRESET PX BATCH PRECISION LAYOUT
official() {
  local out="$1" preset="$2" px="$3" batch="$4" precision="$5" layout="$6" ranks=1 threads="$cores" pred=192
  [ "$preset" = small ] && pred=384
  [ "$layout" = ranks ] && { ranks="$cores"; threads=1; }
  port=$((port + 1))
  local line
  line="$(.venv/bin/python benchmarks/official_reference_bench.py --official_root="$official_root" \
    --images="$images" --mode=files --workers="$workers" --precision="$precision" --steps="$steps" --warmup=3 \
    --model="vit_$preset" --input_size="$px" --batch_size="$batch" --pred_emb_dim="$pred" --pred_depth=6 \
    --ranks="$ranks" --threads="$threads" --port="$port" 2>"$work/official.err")" ||
    { tail -5 "$work/official.err" >&2; exit 1; }
  echo "$line" | sed -n 's/.*overall \([0-9.]*\) images.*peak RSS \([0-9]*\) MB.*/\1 \2/p' >>"$out"
}

layouts=(ours:pass ours:shards ours:ranks)
[ -n "$official_root" ] && layouts+=(official:1proc official:ranks)
res="$work/results"
mkdir -p "$res"
IFS=, read -r -a cfg_list <<<"$configs"
IFS=, read -r -a prec_list <<<"$precisions"
for cfg in "${cfg_list[@]}"; do
  IFS=: read -r preset px batch <<<"$cfg"
  for precision in "${prec_list[@]}"; do
    for r in $(seq "$repeats"); do
      for l in "${layouts[@]}"; do
        "${l%%:*}" "$res/$preset-$px-$batch-$precision-${l/:/-}" "$preset" "$px" "$batch" "$precision" "${l#*:}"
      done
    done
  done
done

# Median of column $2 of file $1.
col_median() { awk -v c="$2" '{print $c}' "$1" | median; }
name() {
  case "$1" in
    ours:pass) echo "1 process, 1 pass x $cores thr" ;;
    ours:shards) echo "1 process, $cores shards x 1 thr" ;;
    ours:ranks) echo "$cores ranks x 1 thr" ;;
    official:1proc) echo "1 process x $cores thr" ;;
    official:ranks) echo "$cores DDP ranks x 1 thr" ;;
  esac
}

echo "All layouts (median images/s over $repeats interleaved runs of $steps steps; peak RSS MB)"
printf "%-16s %-6s %-9s %-30s %10s %8s\n" config prec side layout "images/s" "RSS MB"
for cfg in "${cfg_list[@]}"; do
  IFS=: read -r preset px batch <<<"$cfg"
  for precision in "${prec_list[@]}"; do
    for l in "${layouts[@]}"; do
      f="$res/$preset-$px-$batch-$precision-${l/:/-}"
      printf "%-16s %-6s %-9s %-30s %10s %8s\n" "vit_$preset/$px b$batch" "$precision" "${l%%:*}" \
        "$(name "$l")" "$(col_median "$f" 1)" "$(col_median "$f" 2)"
    done
  done
done
# "layout rate rss" of side $1's fastest layout for the cell in preset/px/batch/precision.
best() {
  for l in "${layouts[@]}"; do
    [ "${l%%:*}" = "$1" ] || continue
    f="$res/$preset-$px-$batch-$precision-${l/:/-}"
    echo "$l $(col_median "$f" 1) $(col_median "$f" 2)"
  done | sort -k2 -g | tail -1
}

echo
echo "Best against best"
printf "%-16s %-6s %-28s %9s %7s %-24s %9s %7s %7s\n" config prec "chexworld best" "images/s" RSS "official best" \
  "images/s" RSS ratio
for cfg in "${cfg_list[@]}"; do
  IFS=: read -r preset px batch <<<"$cfg"
  for precision in "${prec_list[@]}"; do
    read -r la ra ma <<<"$(best ours)"
    lb="-" rb="-" mb="-" ratio="-"
    if [ -n "$official_root" ]; then
      read -r lb rb mb <<<"$(best official)"
      ratio="$(awk -v a="$ra" -v b="$rb" 'BEGIN {printf "%.2fx", a / b}')"
    fi
    printf "%-16s %-6s %-28s %9s %7s %-24s %9s %7s %7s\n" "vit_$preset/$px b$batch" "$precision" "$(name "$la")" \
      "$ra" "$ma" "$( [ "$lb" = - ] && echo - || name "$lb")" "$rb" "$mb" "$ratio"
  done
done
echo "$workers data workers, $cores cores, $(nproc) online; steps after 3 warm-up steps: $steps"
