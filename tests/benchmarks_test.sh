#!/usr/bin/env bash
# Every benchmark config (experiments/eval/benchmarks/) runs end to end on a
# tiny stand-in, so none rots: a ViT of 2 blocks at 64 px with random
# weights, one epoch, and in place of the public data
#  - NIH ChestX-ray14, CheXpert, VinDr-CXR: ../shared/data/nih1000_64px (real
#    NIH labels and its stored split; skipped, saying so, where it is absent);
#  - RSNA, SIIM-ACR, JSRT, Shenzhen -> Montgomery: the built-in phantom
#    (Montgomery = another phantom site).
# The two halves are separate test targets (the last argument, phantom or
# shared) so each stays well inside its time budget when the suite runs four
# actions at once on two cores.
set -euo pipefail
run="$1"; pack="$2"; shared_sh="$3"; part="$4"; shift 4
case "$part" in phantom | shared) ;; *) echo "FAIL: part '$part' is not phantom or shared"; exit 1 ;; esac
source "$(dirname "$0")/test_lib.sh"
work="${TEST_TMPDIR:-$(mktemp -d)}"
export GLOG_minloglevel=1
small=(--set=model.encoder.options.preset=tiny --set=model.encoder.options.depth=2
       --set=model.encoder.options.image_size=64 --set=run.threads=2)
# The segmentation decoder's full-resolution convolutions dominate a stand-in
# run; a base width of 8 (official 32) keeps every layer and cuts them ~3x.
seg_small=(--set=evals[0].options.decoder_width=8)
phantom() {  # extra PhantomDatasetOptions fields
  echo "name: \"phantom\" options { [type.googleapis.com/chexworld.PhantomDatasetOptions] { num_images: 160 image_size: 64 cache_dir: \"$work/cache\" ${1:-} } }"
}
shards() { echo "name: \"shards\" options { [type.googleapis.com/chexworld.ShardsOptions] { manifest: \"$1/manifest.textproto\" } }"; }
bench() {  # name, config, then overrides
  local name="$1" config="$2"; shift 2
  local evals=$(grep -c '^evals {' "$config")
  local per_eval=()
  for ((i = 0; i < evals; i++)); do
    per_eval+=(--set="evals[$i].options.encoders[0].checkpoint=random" --set="evals[$i].options.data.image_size=64")
  done
  "$run" --config="$config" --run_dir="$work/$name" "${small[@]}" "${per_eval[@]}" "$@" > "$work/$name.log" 2>&1 ||
    { tail -5 "$work/$name.log"; fail "benchmark $name"; }
  [ -s "$work/$name/report.html" ] || fail "benchmark $name wrote no report"
  echo "ok: $name ($(ls "$work/$name/eval" | grep -c '\.json$') evaluation(s))"
}
dir="$(dirname "$0")/../experiments/eval/benchmarks"

if [ "$part" = phantom ]; then
bench rsna_pneumonia "$dir/rsna_pneumonia.textproto" --set="evals[0].options.data.dataset=$(phantom)" \
  --set=evals[0].options.epochs=30
grep -q "Appearance shifts of the test images" "$work/rsna_pneumonia/report.md" || fail "rsna: no shift matrix"
bench siim_acr_pneumothorax "$dir/siim_acr_pneumothorax.textproto" --set="evals[0].options.data.dataset=$(phantom)" \
  --set=evals[0].options.classes=opacity --set=evals[0].options.epochs=1 "${seg_small[@]}"
bench jsrt_lungs "$dir/jsrt_lungs.textproto" --set="evals[0].options.data.dataset=$(phantom)" --set=evals[0].options.epochs=1 \
  "${seg_small[@]}"
bench shenzhen_montgomery_lungs "$dir/shenzhen_montgomery_lungs.textproto" \
  --set="evals[0].options.data.dataset=$(phantom 'sites: [0, 1, 2]')" \
  --set="evals[0].options.data.test_dataset=$(phantom 'sites: [3]')" --set=evals[0].options.epochs=1 "${seg_small[@]}"
grep -q "test: .* images of phantom" "$work/shenzhen_montgomery_lungs/report.md" || fail "shenzhen: no external test set"
echo "ok: every phantom benchmark config ran on its stand-in"
exit 0
fi

shared="$(shared_dir "$shared_sh")"
if [ -z "$shared" ]; then
  skip_part "no shared data folder (../shared beside the workspace, or CHEXWORLD_SHARED_DIR): the NIH, CheXpert and VinDr benchmarks were not run"
  exit 0
fi
nih="$shared/data/nih1000_64px"
[ -d "$nih" ] || fail "$nih is absent although the shared data folder $shared exists"
"$pack" --input="$nih" --output="$work/nih" --preset=nih --labels="$nih/Data_Entry_2017_v2020.csv.gz" --size=64 \
  --progress=false > "$work/pack.log" 2>&1 || { tail -5 "$work/pack.log"; fail "packing nih1000"; }
"$pack" --input="$nih/train" --output="$work/nih_train" --preset=nih --labels="$nih/Data_Entry_2017_v2020.csv.gz" \
  --size=64 --progress=false > "$work/pack_train.log" 2>&1 || fail "packing nih1000/train"
"$pack" --input="$nih/test" --output="$work/nih_test" --preset=nih --labels="$nih/Data_Entry_2017_v2020.csv.gz" \
  --size=64 --progress=false > "$work/pack_test.log" 2>&1 || fail "packing nih1000/test"
# The release's own split shares patients between train and test: the
# leakage guard refuses it...
if "$run" --config="$dir/nih_chestxray14.textproto" --run_dir="$work/nih_refused" "${small[@]}" \
    --set="evals[0].options.data.dataset=$(shards "$work/nih")" --set=evals[0].options.encoders[0].checkpoint=random \
    --set=evals[0].options.data.image_size=64 --set=evals[0].options.epochs=5 --set=evals[1].options.epochs=1 \
    --set="evals[1].options.data.dataset=$(shards "$work/nih")" --set=evals[1].options.encoders[0].checkpoint=random \
    > "$work/nih_refused.log" 2>&1; then
  fail "nih1000's stored split shares patients, and the guard did not refuse it"
fi
grep -q "leakage between train/val and test: .* shared patients" "$work/nih_refused.log" || { tail -3 "$work/nih_refused.log"; fail "no leakage message"; }
# ... so the stand-ins leave those test images out.
bench nih_chestxray14 "$dir/nih_chestxray14.textproto" --set="evals[0].options.data.dataset=$(shards "$work/nih")" \
  --set="evals[1].options.data.dataset=$(shards "$work/nih")" --set=evals[0].options.data.drop_overlap=true \
  --set=evals[1].options.data.drop_overlap=true --set=evals[0].options.epochs=20 --set=evals[1].options.epochs=1
bench chexpert_competition5 "$dir/chexpert_competition5.textproto" --set="evals[0].options.data.dataset=$(shards "$work/nih_train")" \
  --set="evals[0].options.data.test_dataset=$(shards "$work/nih_test")" --set=evals[0].options.data.drop_overlap=true \
  --set=evals[0].options.epochs=20
bench vindr_cxr "$dir/vindr_cxr.textproto" --set="evals[0].options.data.dataset=$(shards "$work/nih")" \
  --set=evals[0].options.data.drop_overlap=true --set=evals[0].options.epochs=20
echo "ok: every NIH-derived benchmark config ran on its stand-in"
