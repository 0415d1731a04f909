"""The Python package (chexworld/python/chexworld_torch) against the C++
reference and the official model.

  python_golden.py EXPORT_DIR EMBED_BINARY SHARED_DIR_OR_EMPTY WORK_DIR

1. The same image files through //experiments:embed (C++) and through the
   package give embeddings equal within 1e-5: real radiographs (nih1000, when
   the shared data is there) and synthetic PNGs that exercise every PNG
   filter type, 8/16-bit grey, RGB and palette, black borders, letterboxing
   and downscaling; under the exported spec and under a variant (square
   resize, uint16 storage, a second resize to the input size).
2. Every weights file loads strictly and gives the same encoder; a missing or
   an extra key is refused.
3. The package's encoder and predictor reproduce the official CheXWorld
   outputs of ../shared/fixtures (when present) within 1e-5.
4. The package's own .safetensors reader gives what the `safetensors` package
   gives (tensors, dtypes, metadata), for every exported file and the C++
   embeddings; and the package's writer is read back by `safetensors`.
5. The exported encoder loads strictly into timm's VisionTransformer and its
   pooled output equals the C++ embeddings within 1e-5.
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib

import numpy as np
import torch

import chexworld_torch as cw

export_dir, embed_bin, shared, work = sys.argv[1:5]
TOL = 1e-5


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def png_bytes(pixels, color, depth, palette=None):
    """A PNG whose rows cycle through filter types 0-4."""
    h, w = pixels.shape[:2]
    channels = {0: 1, 2: 3, 3: 1}[color]
    if depth == 16:
        raw = pixels.astype(">u2").reshape(h, w * channels).view(np.uint8).reshape(h, -1)
    else:
        raw = pixels.astype(np.uint8).reshape(h, -1)
    bpp = max(1, channels * depth // 8)
    out, prev = bytearray(), np.zeros(raw.shape[1], dtype=np.int32)
    for y in range(h):
        line, ftype = raw[y].astype(np.int32), y % 5
        left = np.concatenate([np.zeros(bpp, np.int32), line[:-bpp]])
        upleft = np.concatenate([np.zeros(bpp, np.int32), prev[:-bpp]])
        if ftype == 0:
            enc = line
        elif ftype == 1:
            enc = line - left
        elif ftype == 2:
            enc = line - prev
        elif ftype == 3:
            enc = line - ((left + prev) >> 1)
        else:
            p = left + prev - upleft
            pa, pb, pc = np.abs(p - left), np.abs(p - prev), np.abs(p - upleft)
            pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prev, upleft))
            enc = line - pred
        out += bytes([ftype]) + (enc & 0xFF).astype(np.uint8).tobytes()
        prev = line

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, 0))
    if palette is not None:
        data += chunk(b"PLTE", palette.astype(np.uint8).tobytes())
    return data + chunk(b"IDAT", zlib.compress(bytes(out))) + chunk(b"IEND", b"")


def synthetic(h, w, seed):
    """A chest-like grey image in [0, 1] with black borders."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    img = 0.55 + 0.3 * np.cos(6 * x) * np.sin(4 * y) - 0.35 * ((x - 0.3) ** 2 + (y - 0.5) ** 2 < 0.04)
    img = np.clip(img + 0.05 * rng.standard_normal((h, w)), 0, 1)
    img[: h // 10] = 0
    img[:, : w // 12] = 0
    return img


def write_images():
    paths = []
    os.makedirs(work, exist_ok=True)
    cases = [
        ("grey8.png", (synthetic(301, 223, 1) * 255).round(), 0, 8, None),
        ("grey16.png", (synthetic(180, 260, 2) * 65535).round(), 0, 16, None),
        ("rgb8.png", np.stack([synthetic(97, 131, 3) * 255 * f for f in (1.0, 0.9, 0.8)], -1).round(), 2, 8, None),
    ]
    palette = np.stack([np.arange(256)] * 3, -1)
    cases.append(("palette.png", (synthetic(64, 40, 4) * 255).round(), 3, 8, palette))
    for name, pixels, color, depth, pal in cases:
        path = os.path.join(work, name)
        with open(path, "wb") as f:
            f.write(png_bytes(pixels, color, depth, pal))
        paths.append(path)
    if shared:
        root = os.path.join(shared, "data", "nih1000_64px", "test")
        real = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.endswith(".png"))[:4]
        if not real:
            fail(f"no nih1000 radiographs under {root}")
        paths += real
    else:
        print("SKIPPED: C++ vs Python on real radiographs (no shared data folder); synthetic PNGs only")
    return paths


def compare(spec_dir, images, label):
    out_cpp, out_py = os.path.join(work, label + "_cpp.st"), os.path.join(work, label + "_py.st")
    r = subprocess.run([embed_bin, "--export_dir=" + spec_dir, "--images=" + ",".join(images), "--out=" + out_cpp],
                       capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"embed ({label}): {r.stdout}{r.stderr}")
    cpp = cw.read_safetensors(out_cpp)[0]["embeddings"]
    encoder, spec = cw.load_encoder(spec_dir)
    with torch.no_grad():
        py = torch.cat([encoder.embed(cw.prepare(spec, p)) for p in images])
    cw.write_safetensors({"embeddings": py}, out_py)
    embeddings[label] = (images, cpp)
    diff = (cpp - py).abs().max().item()
    if not diff <= TOL:
        worst = (cpp - py).abs().max(dim=1).values.tolist()
        fail(f"{label}: C++ and Python embeddings differ by {diff:.3g} (per image {worst})")
    print(f"ok: {label}: {len(images)} images, C++ vs Python max |diff| {diff:.2e} (scale {cpp.abs().max().item():.2f})")


embeddings = {}  # label -> (images, C++ embeddings)


def variant_export():
    """The same weights under another spec: square resize, uint16 storage, a
    40-px pack resized to the input size."""
    d = os.path.join(work, "variant")
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(export_dir):
        if f != "preprocessing.json":
            shutil.copy(os.path.join(export_dir, f), d)
    spec = json.load(open(os.path.join(export_dir, "preprocessing.json")))
    spec["pack"].update({"size": 40, "resize": "square", "pixel_type": "uint16", "border_threshold": 0.1})
    json.dump(spec, open(os.path.join(d, "preprocessing.json"), "w"))
    return d


def strict_loading(images):
    x = cw.prepare(cw.load_spec(os.path.join(export_dir, "preprocessing.json")), images[0])
    ref = None
    for w in ["target_encoder.pt", "target_encoder.safetensors", "model.pt", "model.safetensors"]:
        enc, _ = cw.load_encoder(export_dir, w)
        with torch.no_grad():
            e = enc.embed(x)
        if ref is None:
            ref = e
        elif not torch.equal(e, ref):
            fail(f"{w} gives another encoder than target_encoder.pt")
    cw.load_encoder(export_dir, "encoder.safetensors")
    for w in ["predictor.pt", "predictor.safetensors", "model.pt"]:
        cw.load_predictor(export_dir, w)
    sd = cw.read_weights(os.path.join(export_dir, "target_encoder.pt"))
    enc, _ = cw.load_encoder(export_dir)
    for broken, what in [({k: v for k, v in sd.items() if k != "norm.bias"}, "missing"),
                         (dict(sd, extra=torch.zeros(1)), "unexpected")]:
        try:
            enc.load_state_dict(broken, strict=True)
        except RuntimeError as e:
            if what.lower() not in str(e).lower() and "Missing" not in str(e) and "Unexpected" not in str(e):
                fail(f"strict load refused a {what} key with: {e}")
        else:
            fail(f"strict load accepted a state dict with a {what} key")
    print("ok: encoder/target_encoder/model .pt and .safetensors load strictly and agree; predictor loads; "
          "missing and unexpected keys refused")


def official_fixtures():
    path = os.path.join(shared, "fixtures", "chexworld_parity_small.h5") if shared else ""
    if not path or not os.path.exists(path):
        print("SKIPPED: Python modules vs the official CheXWorld outputs (no ../shared/fixtures)")
        return
    import h5py
    f = h5py.File(path, "r")
    c = json.loads(f["config"].attrs["json"])
    sd = torch.load(os.path.join(shared, "fixtures", "chexworld_parity_small_state_dict.pt"))
    t = lambda name: torch.from_numpy(f[name][()])
    grid = c["img_size"] // c["patch_size"]
    enc = cw.VisionTransformer(c["img_size"], c["patch_size"], c["in_chans"], c["embed_dim"], c["depth"],
                               c["num_heads"], c["mlp_ratio"]).eval()
    enc.load_state_dict({k[8:]: v for k, v in sd.items() if k.startswith("encoder.")}, strict=True)
    pred = cw.ConditionedPredictor(c["pred_emb_dim"], c["pred_depth"], c["pred_num_heads"], c["pred_mlp_ratio"],
                                   c["action_dim"], c["policy_net_layers"], c["embed_dim"], grid, grid).eval()
    pred.load_state_dict({k[10:]: v for k, v in sd.items() if k.startswith("predictor.")}, strict=True)
    with torch.no_grad():
        z1 = enc(t("inputs/image_aug1"), t("inputs/masks_enc1"))
        z2 = enc(t("inputs/image_aug2"), t("inputs/masks_enc2"))
        got = {
            "Z1": z1,
            "target1_norm": enc(t("inputs/image1")),
            "P11": pred(z1, t("inputs/masks_enc1"), t("inputs/masks_pred1"), t("inputs/aug_params1")),
            "P21": pred(z1, t("inputs/masks_enc1"), t("inputs/masks_pred2"), t("inputs/aug_params1"),
                        t("inputs/rel_pos_21")),
            "P12": pred(z2, t("inputs/masks_enc2"), t("inputs/masks_pred1"), t("inputs/aug_params2"),
                        t("inputs/rel_pos_12")),
        }
    worst = 0.0
    for name, value in got.items():
        diff = (value - t("outputs/" + name)).abs().max().item()
        if not diff <= TOL:
            fail(f"official {name}: the package differs by {diff:.3g}")
        worst = max(worst, diff)
    print(f"ok: encoder and predictor match the official outputs {sorted(got)} within {worst:.2e}")


def safetensors_package():
    from safetensors import safe_open
    from safetensors.torch import load_file
    files = [os.path.join(export_dir, f) for f in sorted(os.listdir(export_dir)) if f.endswith(".safetensors")]
    files += [os.path.join(work, f) for f in sorted(os.listdir(work)) if f.endswith(".st")]
    if len(files) < 6:
        fail(f"expected the exported .safetensors files and the embeddings, found {files}")
    for path in files:
        ours, meta = cw.read_safetensors(path)
        theirs = load_file(path)
        with safe_open(path, framework="pt") as f:
            their_meta = f.metadata() or {}
        if set(ours) != set(theirs):
            fail(f"{path}: keys differ from the safetensors package: {sorted(set(ours) ^ set(theirs))}")
        for k in ours:
            if ours[k].dtype != theirs[k].dtype or not torch.equal(ours[k], theirs[k]):
                fail(f"{path}: tensor {k} differs from the safetensors package")
        if meta != their_meta:
            fail(f"{path}: metadata {meta} differs from the safetensors package's {their_meta}")
    print(f"ok: chexworld_torch's safetensors reader equals the safetensors package on {len(files)} files")


def timm_encoder():
    images, cpp = embeddings["exported"]
    vit = cw.load_timm_encoder(export_dir)
    spec = cw.load_spec(os.path.join(export_dir, "preprocessing.json"))
    with torch.no_grad():
        got = torch.cat([vit(cw.prepare(spec, p)) for p in images])
    diff = (got - cpp).abs().max().item()
    if not diff <= TOL:
        fail(f"timm's VisionTransformer with the exported weights differs from the C++ embeddings by {diff:.3g}")
    print(f"ok: the export loads strictly into timm's VisionTransformer: {len(images)} images, "
          f"max |diff| to C++ {diff:.2e}")


images = write_images()
compare(export_dir, images, "exported")
compare(variant_export(), images, "variant")
strict_loading(images)
official_fixtures()
safetensors_package()
timm_encoder()
