"""How far an encoder's features move when the test images' appearance shifts.

For each encoder and shift, over the stored test split of a shard set: the
mean cosine distance between the pooled embedding of an image and of its
shifted copy, divided by the mean cosine distance between the embeddings of
two different clean test images (so 1.0 = the shift moves an image as far as
swapping it for another radiograph). An encoder invariant to a shift scores
near 0. The shifts are the evaluation's (chexworld/eval/shifts.cc: exposure =
v*f, contrast = m + (v - m) f around the image mean, gamma = v^g; clamped to
[0, 1]) applied to the model-size image, as the shift matrix does.

  PYTHONPATH=chexworld/python .venv/bin/python experiments/analysis/feature_drift.py \\
      --manifest=data/kermany4_160h/manifest.textproto --encoder chexworld=runs/k4h/chexworld/seed0/target_encoder.pt \\
      --encoder random=random [--depth=6 --image_size=128 --patch_size=16]

Prints a markdown table (rows: shift, columns: encoders) and a bootstrap 95%
interval of each entry over test images.
"""
import argparse
import glob
import os

import h5py
import numpy as np
import torch

import chexworld_torch as cw
from chexworld_torch.preprocess import resize

SHIFTS = [("exposure", 0.6), ("exposure", 1.5), ("gamma", 0.5), ("gamma", 2.0), ("gamma", 2.5),
          ("contrast", 0.8), ("contrast", 0.6), ("contrast", 0.4), ("contrast", 0.3)]


def shift(img, kind, f):
    x = img.astype(np.float64)
    if kind == "exposure":
        x = x * f
    elif kind == "contrast":
        m = x.mean()
        x = m + (x - m) * f
    elif kind == "gamma":
        x = np.clip(x, 0, 1) ** f
    return np.clip(x, 0, 1).astype(np.float32)


def test_images(manifest, size):
    folder = os.path.dirname(manifest)
    out = []
    for path in sorted(glob.glob(os.path.join(folder, "shard-*.h5"))):
        with h5py.File(path, "r") as f:
            splits = [s.decode() if isinstance(s, bytes) else s for s in f["splits"][()]]
            for i, s in enumerate(splits):
                if s == "test":
                    img = f["images"][i].astype(np.float32) / np.float32(255)
                    out.append(resize(img, size, size) if img.shape != (size, size) else img)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--manifest", required=True)
    p.add_argument("--encoder", action="append", required=True, help="name=target_encoder.pt or name=random")
    p.add_argument("--depth", type=int, default=6)
    p.add_argument("--image_size", type=int, default=128)
    p.add_argument("--patch_size", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(a.seed)
    images = test_images(a.manifest, a.image_size)
    mean, std = np.float32(0.449), np.float32(0.226)  # imagenet, one channel
    batch = lambda imgs: torch.from_numpy((np.stack(imgs)[:, None] - mean) / std)
    columns, table = [], {}
    rng = np.random.default_rng(0)
    for spec in a.encoder:
        name, path = spec.split("=", 1)
        enc = cw.VisionTransformer(a.image_size, a.patch_size, 1, 192, a.depth, 3).eval()
        if path != "random":
            enc.load_state_dict(torch.load(path), strict=True)
        with torch.no_grad():
            clean = torch.nn.functional.normalize(torch.cat([enc.embed(batch(images[i:i + 64]))
                                                             for i in range(0, len(images), 64)]), dim=1)
            other = clean[torch.from_numpy(rng.permutation(len(images)))]
            between = (1 - (clean * other).sum(1)).numpy()
            for kind, f in SHIFTS:
                moved = torch.nn.functional.normalize(torch.cat([
                    enc.embed(batch([shift(x, kind, f) for x in images[i:i + 64]])) for i in range(0, len(images), 64)]), dim=1)
                d = (1 - (clean * moved).sum(1)).numpy()
                boot = [d[idx].mean() / between[idx].mean() for idx in rng.integers(0, len(d), (500, len(d)))]
                table[(kind, f, name)] = (d.mean() / between.mean(), *np.percentile(boot, [2.5, 97.5]))
        columns.append(name)
    print(f"{len(images)} test images; drift = mean cosine distance (clean, shifted) / mean cosine distance (two clean images)\n")
    print("| shift | " + " | ".join(columns) + " |\n|---|" + "---|" * len(columns))
    for kind, f in SHIFTS:
        cells = ["%.3f [%.3f, %.3f]" % table[(kind, f, n)] for n in columns]
        print(f"| {kind} {f:g} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
