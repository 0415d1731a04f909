"""The exported preprocessing spec (preprocessing.json, described in
chexworld/data/preprocessing.proto) applied to an image, step for step as the
C++ reference (chexworld/data/packing.cc, resize.cc, preprocessing.cc): the
same float32 operations in the same order, so a pixel that C++ rounds to a
stored uint8 value rounds the same way here."""
import json
import math

import numpy as np
import torch

from .images import read_image


def load_spec(path):
    with open(path) as f:
        spec = json.load(f)
    for key in ("pack", "input_size", "channels", "mean", "std", "resample", "pooling"):
        if key not in spec:
            raise ValueError(f"{path}: no '{key}'")
    if spec["resample"] != "antialiased_bicubic":
        raise ValueError(f"{path}: resample '{spec['resample']}' is not antialiased_bicubic")
    if len(spec["mean"]) != spec["channels"] or len(spec["std"]) != spec["channels"]:
        raise ValueError(f"{path}: mean/std need one value per channel ({spec['channels']})")
    return spec


def _lround(x):  # C's lround for x >= 0: halves away from zero
    return int(math.floor(x + 0.5))


def _cubic(x):
    a = -0.5
    x = abs(x)
    if x < 1.0:
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    if x < 2.0:
        return (((x - 5.0) * x + 8.0) * x - 4.0) * a
    return 0.0


def _taps(in_size, out_size):
    scale = in_size / out_size
    support = 2.0 * max(1.0, scale)
    max_taps = int(math.ceil(support)) * 2 + 3
    filter_scale = max(1.0, scale)
    first, count = [], []
    weights = np.zeros((out_size, max_taps), dtype=np.float32)
    for o in range(out_size):
        center = (o + 0.5) * scale
        lo, hi = int(math.floor(center - support)), int(math.ceil(center + support))
        w = [_cubic((i + 0.5 - center) / filter_scale) for i in range(lo, hi + 1)]
        total = 0.0
        for v in w:
            total += v
        f = min(max(lo, 0), in_size - 1)
        last = min(max(hi, 0), in_size - 1)
        first.append(f)
        count.append(min(last - f + 1, max_taps))
        for n, i in enumerate(range(lo, hi + 1)):
            idx = min(max(i, 0), in_size - 1) - f
            if 0 <= idx < count[o] and total != 0:
                weights[o, idx] = np.float32(weights[o, idx] + np.float32(w[n] / total))
    return first, count, weights


def resize(img, out_h, out_w):
    """Antialiased bicubic (a = -0.5), separable, edges repeated; float32."""
    h, w = img.shape
    fx, cx, wx = _taps(w, out_w)
    fy, cy, wy = _taps(h, out_h)
    row_lo = min(fy)
    row_hi = max(f + c - 1 for f, c in zip(fy, cy))
    src = img[row_lo:row_hi + 1].astype(np.float32)
    tmp = np.zeros((src.shape[0], out_w), dtype=np.float32)
    for o in range(out_w):
        acc = np.zeros(src.shape[0], dtype=np.float32)
        for k in range(cx[o]):
            acc = acc + wx[o, k] * src[:, fx[o] + k]
        tmp[:, o] = acc
    out = np.zeros((out_h, out_w), dtype=np.float32)
    for o in range(out_h):
        acc = np.zeros(out_w, dtype=np.float32)
        for k in range(cy[o]):
            acc = acc + wy[o, k] * tmp[fy[o] + k - row_lo]
        out[o] = acc
    return out


def content_box(img, threshold):
    """(y, x, h, w): rows/columns with at least 10% of pixels above threshold."""
    h, w = img.shape
    bright = img > np.float32(threshold)
    rows = bright.sum(axis=1) * 10 >= w
    cols = bright.sum(axis=0) * 10 >= h
    if not rows.any() or not cols.any():
        return 0, 0, h, w
    y0, y1 = int(np.argmax(rows)), h - 1 - int(np.argmax(rows[::-1]))
    x0, x1 = int(np.argmax(cols)), w - 1 - int(np.argmax(cols[::-1]))
    if y1 - y0 + 1 < h // 4 or x1 - x0 + 1 < w // 4:
        return 0, 0, h, w
    return y0, x0, y1 - y0 + 1, x1 - x0 + 1


def fit_to_square(img, size, mode):
    if mode == "square":
        return resize(img, size, size)
    h, w = img.shape
    scale = size / max(h, w)
    nh, nw = max(1, _lround(h * scale)), max(1, _lround(w * scale))
    out = np.zeros((size, size), dtype=np.float32)
    y, x = (size - nh) // 2, (size - nw) // 2
    out[y:y + nh, x:x + nw] = resize(img, nh, nw)
    return out


def quantize(img, pixel_type):
    """As stored in a shard and read back."""
    top = np.float32(65535 if pixel_type == "uint16" else 255)
    v = np.clip(img, np.float32(0), np.float32(1)) * top
    q = np.floor(v.astype(np.float64) + 0.5)
    return q.astype(np.float32) / top


def pack(img, rules):
    if rules.get("remove_border", False):
        y, x, h, w = content_box(img, rules.get("border_threshold", 0.0))
        img = img[y:y + h, x:x + w]
    fitted = fit_to_square(img, rules["size"], rules.get("resize", "letterbox"))
    return quantize(fitted, rules.get("pixel_type", "uint8"))


def prepare(spec, image):
    """A grey [0, 1] array (or an image path) -> the encoder input (1, C, S, S)."""
    img = read_image(image) if isinstance(image, str) else np.asarray(image, dtype=np.float32)
    packed = pack(img, spec["pack"])
    s = spec["input_size"]
    if packed.shape != (s, s):
        packed = resize(packed, s, s)
    planes = [(packed - np.float32(m)) / np.float32(sd) for m, sd in zip(spec["mean"], spec["std"])]
    return torch.from_numpy(np.stack(planes).astype(np.float32)).unsqueeze(0)
