#!/usr/bin/env bash
# The GPU check: on a fresh GPU host with PyTorch (a CUDA wheel), CMake, ninja
# and a C++ compiler but no Bazel, in one call: build chexworld with CMake,
# run the quick start on cuda, the phantom step at the official shape (ViT-Tiny
# and ViT-Base, 224 px, bf16, batch 128; eager and with the CUDA graph), the
# step-phase benchmark, a profile of 5 steps, the official code's step on the
# same torch (with --official_root), and NCCL (world size 1; two ranks). Every
# log and figure goes into one folder; summary.txt first.
#
#   benchmarks/gpu_check.sh --deps=/path/chexworld_deps.tar.xz --official_root=/path/CheXWorld \
#       [--python=python3] [--out=/tmp/gpu_out] [--deadline_s=540] [--device=cuda]
#
# --deps: the libraries besides libtorch (benchmarks/gpu_deps.sh makes the
# tarball on a Debian 12 machine), a tarball or an unpacked prefix; empty: the
# host's own (system or CMAKE_PREFIX_PATH). --device=cpu runs the same stages
# at toy sizes, to check the script itself on a machine without a GPU.
# Each stage has its own time limit inside the deadline; a failed stage is
# reported and the next runs.
set -u
cd "$(dirname "$0")/.."
src="$(pwd)"
deps="" official="" py="${PYTHON:-python3}" out="${OUT:-/tmp/gpu_out}" deadline=540 device=cuda
for arg in "$@"; do
  case "$arg" in
    --deps=*) deps="${arg#*=}" ;;
    --official_root=*) official="${arg#*=}" ;;
    --python=*) py="${arg#*=}" ;;
    --out=*) out="${arg#*=}" ;;
    --deadline_s=*) deadline="${arg#*=}" ;;
    --device=*) device="${arg#*=}" ;;
    *) echo "unknown argument $arg (see the header of $0)" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
S="$out/summary.txt"
: > "$S"
t0=$(date +%s)
now() { echo $(( $(date +%s) - t0 )); }
note() { echo "[$(now)s] $*" | tee -a "$S"; }
# budget N: N seconds or what is left before the deadline (less 5 s), at least 1.
budget() { local left=$(( deadline - $(now) - 5 )); [ "$left" -lt 1 ] && left=1; [ "$1" -lt "$left" ] && echo "$1" || echo "$left"; }
work=/tmp/cwgpu
[ -d /dev/shm ] && [ "$(df -BG --output=avail /dev/shm 2> /dev/null | tail -1 | tr -dc 0-9)" -ge 24 ] 2> /dev/null && work=/dev/shm/cwgpu
rm -rf "$work" && mkdir -p "$work"
jobs="$(nproc)"
cuda=1; [ "$device" = cpu ] && cuda=0

# Sizes: the official shape on a GPU, toy sizes for --device=cpu.
if [ "$cuda" = 1 ]; then
  px=224 batch=128 steps=30 presets="tiny base" workers=12 build_s=300
else
  px=128 batch=8 steps=8 presets="tiny" workers=2 build_s=900
fi

smi_start() { [ "$cuda" = 1 ] || return 0; nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 > "$1" 2> /dev/null & smi_pid=$!; }
smi_stop() { [ "$cuda" = 1 ] || { echo n/a; return 0; }; kill "$smi_pid" 2> /dev/null; wait "$smi_pid" 2> /dev/null; sort -n "$1" | tail -1; }

# ------------------------------------------------------------------ 0: the machine
timeout "$(budget 30)" bash -c '
  set -x
  nvidia-smi; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  cat /etc/os-release; ldd --version | head -1; nproc; free -g
  c++ --version | head -1; cmake --version | head -1; ninja --version
  '"$py"' -c "import torch, sys; print(sys.version); print(torch.__version__, torch.version.cuda, torch.cuda.is_available())"
' > "$out/env.txt" 2>&1
note "env: $(grep -m1 PRETTY_NAME "$out/env.txt" | cut -d= -f2), $($py -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())' 2>&1 | tail -1), $(nvidia-smi --query-gpu=name --format=csv,noheader 2> /dev/null | head -1)"

# ------------------------------------------------------------------ 1: the official step, same torch
if [ -n "$official" ]; then
  for p in $presets; do
    timeout "$(budget 120)" "$py" benchmarks/official_reference_bench.py --official_root="$official" \
      --images=synthetic --mode=memory --device="$device" --precision=bf16 --model="vit_$p" --input_size="$px" \
      --batch_size="$batch" --pred_emb_dim=384 --pred_depth=6 --steps=20 --warmup=3 --threads=4 --json \
      >> "$out/official.txt" 2>&1 < /dev/null
    note "official vit_$p/$px bf16 b$batch rc=$?: $(grep '^official' "$out/official.txt" | tail -1 | cut -d: -f2- | cut -c1-220)"
  done
else
  note "official: skipped (no --official_root)"
fi

# ------------------------------------------------------------------ 2: the CMake build
prefix=""
if [ -n "$deps" ]; then
  if [ -f "$deps" ]; then
    mkdir -p "$work/deps" && tar -xJf "$deps" -C "$work/deps" && prefix="$work/deps/usr"
  else
    prefix="$deps"
  fi
  export LD_LIBRARY_PATH="$prefix/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
torch_prefix="$($py -c 'import torch; print(torch.utils.cmake_prefix_path)')"
build="$work/build"
ts=$(date +%s)
timeout "$(budget 120)" cmake -S "$src" -B "$build" -G Ninja -DCMAKE_PREFIX_PATH="$torch_prefix${prefix:+;$prefix}" \
  > "$out/build.log" 2>&1 && timeout "$(budget "$build_s")" cmake --build "$build" -j "$jobs" >> "$out/build.log" 2>&1
rc=$?
note "build rc=$rc in $(( $(date +%s) - ts ))s: $(grep -E 'chexworld: libtorch' "$out/build.log" | cut -c1-200); errors: $(grep -c -E 'error:|undefined reference' "$out/build.log")"
grep -m5 -E "error:|undefined reference|CMake Error" "$out/build.log" | cut -c1-300 | sed 's/^/  /' >> "$S"
run="$build/run"
[ -x "$run" ] || { note "no run binary: the stages below are skipped"; exit 1; }

# ------------------------------------------------------------------ 3: runs on the device
# steady IMAGES/S from metrics.csv (rows after the first 5) and the memory of summary.txt
figures() {
  "$py" - "$1" "$2" << 'PY'
import csv, os, sys
run, batch = sys.argv[1], int(sys.argv[2])
try:
    rows = list(csv.DictReader(open(os.path.join(run, "metrics.csv"))))
except OSError as e:
    print("no metrics.csv:", e); sys.exit()
summary = dict(l.split(": ", 1) for l in open(os.path.join(run, "summary.txt")).read().splitlines() if ": " in l) \
    if os.path.exists(os.path.join(run, "summary.txt")) else {}
k = min(5, len(rows) - 2)
if k < 1:
    print(f"only {len(rows)} rows"); sys.exit()
a, b = rows[k], rows[-1]
n = len(rows) - 1 - k
dt = float(b["elapsed_s"]) - float(a["elapsed_s"])
wait = sum(float(r["data_wait_s"]) for r in rows[k + 1:])
gib = lambda key: summary.get(key, "n/a") if summary.get(key, "n/a") == "n/a" else f"{int(summary[key]) / 2**30:.2f} GiB"
print(f"{batch * n / dt:.1f} img/s steady ({1e3 * dt / n:.1f} ms/step, data wait {1e3 * wait / n:.1f} ms/step), "
      f"{summary.get('achieved_tflops', '?')} TFLOP/s overall, peak allocated {gib('peak_cuda_allocated_bytes')}, "
      f"reserved {gib('peak_cuda_reserved_bytes')}, in use {gib('peak_cuda_in_use_bytes')}; loss {rows[0]['loss']} -> {b['loss']}")
PY
}
cw_run() {  # NAME SECONDS BATCH ARGS...
  local name=$1 seconds=$2 b=$3; shift 3
  local dir="$work/runs/$name"
  smi_start "$work/smi_$name.txt"
  local ts=$(date +%s)
  (cd "$work" && timeout "$(budget "$seconds")" "$run" "$@" --run_dir="$dir") > "$out/run_$name.log" 2>&1
  local rc=$?
  local peak; peak=$(smi_stop "$work/smi_$name.txt")
  note "$name rc=$rc in $(( $(date +%s) - ts ))s: $(figures "$dir" "$b"); nvidia-smi peak ${peak} MiB"
  [ "$rc" = 0 ] || tail -3 "$out/run_$name.log" | cut -c1-300 | sed 's/^/  /' >> "$S"
  cp "$dir/metrics.csv" "$out/metrics_$name.csv" 2> /dev/null
  [ -f "$dir/profile/ops.tsv" ] && cp "$dir/profile/ops.tsv" "$out/profile_${name}_ops.tsv" &&
    gzip -c "$dir/profile/trace.json" > "$out/profile_${name}_trace.json.gz" 2> /dev/null
  return 0
}
cw_run quickstart 60 16 --config="$src/experiments/pretrain/tiny.textproto" --set run.device="$device" \
  --set trainer.concurrent_shards=1 --set trainer.max_steps=24 --set evals=
common=(--config="$src/experiments/pretrain/gpu_step_phantom.textproto" --set run.device="$device"
        --set model.encoder.options.image_size="$px" --set data.transform.options.output_size="$px"
        --set data.batch_size="$batch" --set data.num_workers="$workers" --set trainer.max_steps="$steps")
for p in $presets; do
  cw_run "${p}${px}_bf16" 120 "$batch" "${common[@]}" --set model.encoder.options.preset="$p" \
    --set run.profile_steps=10:15
  if grep -q "cuda_graph" "$src/chexworld/proto/experiment.proto"; then
    cw_run "${p}${px}_bf16_graph" 120 "$batch" "${common[@]}" --set model.encoder.options.preset="$p" \
      --set data.masker.options.fixed_lengths=true --set trainer.cuda_graph=true
  fi
done

# ------------------------------------------------------------------ 4: the phases of one step
for p in $presets; do
  timeout "$(budget 90)" "$build/step_phases_bench" --device="$device" --preset="$p" --image_size="$px" \
    --batch="$batch" --bf16 --steps=10 --warmup=3 > "$out/phases_$p.txt" 2>&1
  note "step phases vit_$p rc=$?: $(tr '\n' ' ' < "$out/phases_$p.txt" | tr -s ' ' | cut -c1-400)"
done

# ------------------------------------------------------------------ 5: NCCL
if [ "$cuda" = 1 ]; then
  nccl=(--config="$src/experiments/pretrain/tiny.textproto" --set run.device=cuda --set trainer.concurrent_shards=1
        --set trainer.max_steps=8 --set evals= --set run.rendezvous_timeout_s=20 --set run.collective_timeout_s=20)
  (cd "$work" && timeout "$(budget 40)" "$run" "${nccl[@]}" --set run.distributed_backend=nccl \
     --run_dir="$work/runs/nccl1") > "$out/nccl_world1.log" 2>&1
  note "nccl world size 1 rc=$?: $(grep -E 'trained|error' "$out/nccl_world1.log" | tail -1 | cut -c1-200)"
  gpus=$(nvidia-smi -L 2> /dev/null | wc -l)
  for be in nccl gloo; do
    (cd "$work" && timeout "$(budget 60)" "$build/launch" --nproc=2 --runner="$run" --run_dir="$work/runs/ddp_$be" -- \
       "${nccl[@]}" --set run.distributed_backend=$be --set data.batch_size=8 \
       $([ "$gpus" -lt 2 ] && echo --set run.device=cuda:0)) > "$out/ranks2_$be.log" 2>&1
    note "2 ranks, $be, $gpus GPU(s) rc=$?: $(grep -i -E 'error|fail|trained|exited' "$out/ranks2_$be.log" | tail -2 | cut -c1-250 | tr '\n' ' ')"
  done
else
  (cd "$work" && timeout "$(budget 60)" "$build/launch" --nproc=2 --runner="$run" --run_dir="$work/runs/ddp_gloo" -- \
     --config="$src/experiments/pretrain/tiny.textproto" --set run.threads=1 --set trainer.concurrent_shards=1 \
     --set trainer.max_steps=8 --set evals=) > "$out/ranks2_gloo.log" 2>&1
  note "2 ranks, gloo, cpu rc=$?: $(grep -i -E 'error|fail|trained' "$out/ranks2_gloo.log" | tail -1 | cut -c1-200)"
fi
note "done in $(now)s; files: $(ls "$out" | tr '\n' ' ')"
