#!/usr/bin/env bash
# A training checkpoint exported by //experiments:export reads in Python
# (the project's .venv: the same torch the build links) with plain torch.load, its
# safetensors files parse by the format's definition, and every tensor equals
# what the trainer itself exported. Then the Python package
# (chexworld/python/chexworld_torch) against the C++ embedding and the
# official outputs: tests/python_golden.py.
set -euo pipefail
run="$1"; export="$2"; config="$3"; embed="$4"; shared_sh="$5"; python_sh="$6"
source "$(dirname "$0")/test_lib.sh"
py="$(project_python "$python_sh")"
work="${TEST_TMPDIR:-$(mktemp -d)}"
export GLOG_minloglevel=1
"$run" --config="$config" --set=data.dataset.options.cache_dir="$work/cache" --set=trainer.max_steps=10 \
  --run_dir="$work/run" > "$work/run.log" 2>&1 || { tail -5 "$work/run.log"; fail "training run"; }
"$export" --run_dir="$work/run" > "$work/export.log" 2>&1 || { tail -5 "$work/export.log"; fail "export"; }
grep -q "exported .*checkpoint-0000000010.pt (micro-batch 10)" "$work/export.log" || fail "export did not name its checkpoint"
for f in preprocessing architecture; do
  [ -s "$work/run/export/$f.json" ] || fail "missing export/$f.json"
done
for f in model encoder target_encoder predictor training_state; do
  [ -s "$work/run/export/$f.pt" ] && [ -s "$work/run/export/$f.safetensors" ] || fail "missing $f.pt / $f.safetensors"
done
expect_status 2 "$export" --run_dir="$work/run" --formats=onnx
"$py" - "$work/run" <<'PY'
import json, struct, sys, torch
run = sys.argv[1]
ex = run + "/export/"
def safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    dtypes = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "U8": torch.uint8, "BOOL": torch.bool}
    out = {}
    for k, v in header.items():
        b, e = v["data_offsets"]
        buf = bytearray(raw[8 + n + b: 8 + n + e])
        t = torch.frombuffer(buf, dtype=dtypes[v["dtype"]]) if e > b else torch.empty(0, dtype=dtypes[v["dtype"]])
        out[k] = t.reshape(v["shape"])
    return out, meta
# The trainer's own export is the reference for the encoders.
trainer_target = torch.load(run + "/target_encoder.pt")
for stem in ["model", "encoder", "target_encoder", "predictor", "training_state"]:
    pt = torch.load(ex + stem + ".pt")
    assert type(pt) is dict and pt, (stem, type(pt))
    st, meta = safetensors(ex + stem + ".safetensors")
    assert meta["iteration"] == "10", meta
    assert set(st) == set(pt), (stem, set(st) ^ set(pt))
    for k in pt:
        assert torch.equal(pt[k], st[k]), (stem, k)
target = torch.load(ex + "target_encoder.pt")
assert set(target) == set(trainer_target)
for k in target:
    assert torch.equal(target[k], trainer_target[k]), k
model = torch.load(ex + "model.pt")
assert all(k.split(".")[0] in ("encoder", "target_encoder", "predictor") for k in model)
assert torch.equal(model["target_encoder.blocks.0.attn.qkv.weight"], target["blocks.0.attn.qkv.weight"])
state = torch.load(ex + "training_state.pt")
assert int(state["iteration"]) == 10 and int(state["optimizer_steps"]) == 5, state["iteration"]
assert "encoder.blocks.0.attn.qkv.weight.exp_avg" in state and "predictor.mask_token.exp_avg_sq" in state
assert float(state["encoder.blocks.0.attn.qkv.weight.step"]) == 5
js = json.load(open(ex + "training_state.json"))
assert js["iteration"] == 10 and "encoder.patch_embed.proj.weight" in js["param_groups"][0]["params"]
print("ok: Python reads every export,", len(model), "model tensors")
PY

# The package: same embeddings as the C++ tool, strict loads, official outputs.
PYTHONPATH="$PWD/chexworld/python" "$py" "$(dirname "$0")/python_golden.py" "$work/run/export" "$embed" \
  "$(shared_dir "$shared_sh")" "$work/golden" || fail "python_golden.py"
# A file that does not decode is skipped, named and counted (status 1); the rest are embedded.
printf '\x89PNG\r\n\x1a\n truncated' > "$work/corrupt.png"
set +e
"$embed" --export_dir="$work/run/export" --images="$work/golden/grey8.png,$work/corrupt.png" \
  --out="$work/partial.safetensors" > "$work/embed.log" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] && grep -q "skipped $work/corrupt.png" "$work/embed.log" && grep -q "embedded 1 image(s).*skipped 1" "$work/embed.log" ||
  { cat "$work/embed.log"; fail "embed with a corrupt image: status $rc"; }
