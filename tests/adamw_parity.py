"""The trainer's AdamW (chexworld/train/adamw.h: ATen's multi-tensor kernels)
against torch.optim.AdamW, fused and foreach, over 10 steps.

  adamw_parity.py make DIR     writes DIR/inputs.pt: parameters of two groups
                               (decay / no decay), gradients and the lr and
                               weight-decay schedule of each step
  adamw_parity.py check DIR    reads DIR/ours.pt (written by adamw_steps from
                               inputs.pt) and compares parameters and both
                               moments with torch.optim.AdamW's, fused=True
                               and foreach=True, within 1e-6
"""
import sys

import torch

STEPS = 10
SHAPES = [(48, 32), (32,), (7, 5, 3), (1, 1, 16), (96,), (3, 3)]
DECAY = [1, 0, 1, 1, 0, 0]  # 1-D tensors and biases carry no decay, as the official groups
BETAS, EPS = (0.9, 0.999), 1e-8


def make(d):
    g = torch.Generator().manual_seed(7)
    out = {}
    for i, s in enumerate(SHAPES):
        out[f"p{i}"] = torch.randn(s, generator=g)
        out[f"decay{i}"] = torch.tensor(DECAY[i])
        for t in range(STEPS):
            out[f"g{t}_{i}"] = torch.randn(s, generator=g) * (10.0 ** (t % 3 - 1))
    for t in range(STEPS):
        out[f"lr{t}"] = torch.tensor(1e-3 * (1 + t) / STEPS, dtype=torch.float64)
        out[f"wd{t}"] = torch.tensor(0.04 + 0.001 * t, dtype=torch.float64)
    torch.save(out, f"{d}/inputs.pt")


def reference(inputs, **impl):
    params = [inputs[f"p{i}"].clone().requires_grad_(True) for i in range(len(SHAPES))]
    groups = [{"params": [p for i, p in enumerate(params) if DECAY[i]], "weight_decay": 0.0},
              {"params": [p for i, p in enumerate(params) if not DECAY[i]], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=0.0, betas=BETAS, eps=EPS, **impl)
    for t in range(STEPS):
        opt.param_groups[0]["lr"] = opt.param_groups[1]["lr"] = inputs[f"lr{t}"].item()
        opt.param_groups[0]["weight_decay"] = inputs[f"wd{t}"].item()
        for i, p in enumerate(params):
            p.grad = inputs[f"g{t}_{i}"].clone()
        opt.step()
    return {i: (p.detach(), opt.state[p]["exp_avg"], opt.state[p]["exp_avg_sq"]) for i, p in enumerate(params)}


def check(d):
    inputs = torch.load(f"{d}/inputs.pt")
    ours = torch.load(f"{d}/ours.pt")
    worst = 0.0
    for impl in ({"fused": True}, {"foreach": True}):
        ref = reference(inputs, **impl)
        for i, (p, m, v) in ref.items():
            for what, a, b in (("param", p, ours[f"p{i}"]), ("exp_avg", m, ours[f"m{i}"]),
                               ("exp_avg_sq", v, ours[f"v{i}"])):
                diff = (a - b).abs().max().item()
                worst = max(worst, diff)
                if not diff <= 1e-6:
                    print(f"FAIL: {what} of tensor {i} {list(a.shape)} differs from torch.optim.AdamW({impl}) "
                          f"by {diff:.3g} after {STEPS} steps")
                    sys.exit(1)
    print(f"ok: {STEPS} steps of the trainer's AdamW equal torch.optim.AdamW (fused and foreach) "
          f"within {worst:.2e} (parameters and both moments of {len(SHAPES)} tensors in two groups)")


if __name__ == "__main__":
    {"make": make, "check": check}[sys.argv[1]](sys.argv[2])
