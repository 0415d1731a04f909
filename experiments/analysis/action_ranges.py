#!/usr/bin/env python3
"""How often pretraining shows the encoder an appearance as strong as an evaluation shift.

The dual-view transform (chexworld/data/transforms/dual_view.cc, METHOD section 4) first applies a
shared colour jitter to the whole image (probability 0.8; brightness and contrast factors
U(1 - 0.4, 1 + 0.4)), so both clean views (the target encoder's input) carry it; then each context
view gets its own appearance action (probability 0.8: brightness U(b_min, b_max), contrast
U(c_min, c_max), gamma log-uniform in [g_min, g_max]). The factors of one view compose as products
(contrast blends towards the mean grey, which brightness scales and contrast keeps), so the
contrast a context view shows is c_shared * c_action.

This draws those factors by Monte Carlo and prints, for the default and the widened ranges
(experiments/sweeps/kermany4_contrast.textproto), the probability that a view is at least as far
from the original as each test shift of experiments/eval/kermany4_contrast_shifts.textproto.
Local-only (I-JEPA) pretraining feeds the clean views to both encoders, so its context views are the
"clean view" rows.

  .venv/bin/python experiments/analysis/action_ranges.py [--draws=1000000] [--seed=0]
"""
import argparse

import numpy as np

RANGES = {
    # name: (brightness_min, brightness_max, contrast_min, contrast_max, gamma_min, gamma_max)
    "default": (0.6, 1.4, 0.6, 1.4, 0.5, 2.0),
    "wide_range": (0.4, 1.6, 0.25, 1.75, 0.35, 2.8),
}
SHARED_PROBABILITY, SHARED_BRIGHTNESS, SHARED_CONTRAST = 0.8, 0.4, 0.4
ACTION_PROBABILITY = 0.8

# (label, factor, test) for each evaluation shift: test(x) says the view is at least that strong.
SHIFTS = [
    ("contrast <= 0.6", "contrast", lambda x: x <= 0.6),
    ("contrast <= 0.4", "contrast", lambda x: x <= 0.4),
    ("contrast <= 0.3", "contrast", lambda x: x <= 0.3),
    ("gamma >= 2.0", "gamma", lambda x: x >= 2.0),
    ("gamma >= 2.5", "gamma", lambda x: x >= 2.5),
    ("gamma <= 0.5", "gamma", lambda x: x <= 0.5),
    ("exposure <= 0.6", "brightness", lambda x: x <= 0.6),
    ("exposure >= 1.5", "brightness", lambda x: x >= 1.5),
]


def shared_jitter(rng, n):
    on = rng.random(n) < SHARED_PROBABILITY
    b = np.where(on, rng.uniform(1 - SHARED_BRIGHTNESS, 1 + SHARED_BRIGHTNESS, n), 1.0)
    c = np.where(on, rng.uniform(1 - SHARED_CONTRAST, 1 + SHARED_CONTRAST, n), 1.0)
    return {"brightness": b, "contrast": c, "gamma": np.ones(n)}


def action(rng, n, ranges):
    b_min, b_max, c_min, c_max, g_min, g_max = ranges
    on = rng.random(n) < ACTION_PROBABILITY
    return {
        "brightness": np.where(on, rng.uniform(b_min, b_max, n), 1.0),
        "contrast": np.where(on, rng.uniform(c_min, c_max, n), 1.0),
        "gamma": np.where(on, np.exp(rng.uniform(np.log(g_min), np.log(g_max), n)), 1.0),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--draws", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    clean = shared_jitter(rng, args.draws)
    views = [("clean view (target; local-only context)", clean)]
    for name, r in RANGES.items():
        a = action(rng, args.draws, r)
        views.append((f"context view, {name} action", {k: clean[k] * a[k] for k in clean}))
    print(f"{args.draws} draws per view, seed {args.seed}; P(view at least as strong as the shift)\n")
    print("| view | " + " | ".join(s for s, _, _ in SHIFTS) + " |")
    print("|---|" + "---|" * len(SHIFTS))
    for label, f in views:
        print(f"| {label} | " + " | ".join(f"{np.mean(t(f[k])):.4f}" for _, k, t in SHIFTS) + " |")


if __name__ == "__main__":
    main()
