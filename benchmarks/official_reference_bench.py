#!/usr/bin/env python3
"""Times the official CheXWorld PyTorch pretraining step for comparison.

This drives a checkout of the official code (LeapLabTHU/CheXWorld, which is not
part of this project) the way its train_jepa.py does -- same model builder,
dual-view transform, mask collator, AdamW parameter groups, loss scaler, EMA
update -- on CPU or on a CUDA device (--device=cuda: the batch moved with the
official nested_to_gpu, CUDA bf16 autocast as train_jepa.py), so that
chexworld's own figures (benchmarks/official_comparison.sh,
benchmarks/gpu_check.sh, //benchmarks:models_bench) have a reference measured
on the same machine and the same torch.

Two modes:
  files   end to end: a torch DataLoader decodes image files with PIL and
          applies the official transform in worker processes (the official
          data path), the step consumes its batches.
  memory  the step alone, on one batch collated once and reused.

Layouts: one process with --threads intra-op threads, or --ranks N
data-parallel processes (torch.distributed over Gloo, the model wrapped in
DistributedDataParallel with static_graph as train_jepa.py does; each rank
takes batch_size / N images, --threads threads and workers / N loader
processes; rank 0 reports the global rate).

bf16 on CPU: CPU autocast, with layer_norm run in fp32 as CUDA autocast's
policy does (CPU autocast's fp32 list has differed between torch versions);
the policy is applied here, in the driver, by wrapping
torch.nn.functional.layer_norm. The official files are not modified.

Prints images/s (median over timed steps, and overall), the peak resident
set of the training process (per rank, summed over ranks; DataLoader worker
processes excluded), on CUDA the caching allocator's peak allocated and peak
reserved bytes (the pair chexworld's summary.txt reports), with --json one
JSON line of every figure, and, with --flops, the
FLOPs of one step counted by torch.profiler (matmul/conv), so that figures can
be turned into a fraction of the sgemm peak. Needs torch, torchvision and
Pillow (the project's .venv has them). einops and OpenCV are not needed: the
few names the official code imports from them at module level are replaced by
minimal stand-ins when those packages are absent; none of them is used by the
timed code path.

  .venv/bin/python benchmarks/official_reference_bench.py \
      --official_root=/path/to/CheXWorld --images=../shared/data/kermany4/train \
      --model=vit_tiny --input_size=224 --batch_size=16 --mode=files
"""
import argparse
import glob
import os
import statistics
import sys
import time
import types


# Packages the official code imports at module level for dataset classes and
# training recipes this benchmark does not run. Where one is not installed, a
# stand-in module answers every attribute with a class that raises when used.
OPTIONAL_PACKAGES = ("albumentations", "cv2", "dinov2", "einops", "monai", "pandas", "pydicom", "skimage",
                     "sklearn", "tqdm", "timm")


class _StandInFinder:
    """Meta-path finder that serves stand-ins for missing OPTIONAL_PACKAGES."""

    def __init__(self, roots):
        self.roots = set(roots)

    def find_spec(self, name, path=None, target=None):
        import importlib.machinery
        if not any(name == r or name.startswith(r + ".") for r in self.roots):
            return None
        return importlib.machinery.ModuleSpec(name, self, is_package=True)

    def create_module(self, spec):
        m = types.ModuleType(spec.name)
        m.__path__ = []

        def getattr_(attr, module=spec.name):
            if attr.startswith("__"):
                raise AttributeError(attr)

            class Missing:
                def __init__(self, *args, **kwargs):
                    raise RuntimeError(f"{module}.{attr} is not installed; this benchmark does not use it")

            Missing.__name__ = attr
            return Missing

        m.__getattr__ = getattr_
        return m

    def exec_module(self, module):
        pass


def install_stand_ins():
    import importlib.util
    import torch
    missing = [r for r in OPTIONAL_PACKAGES if importlib.util.find_spec(r) is None]
    # models/unet_adapter_conv.py imports a vendored dinov2 package that the
    # public repository does not contain.
    missing.append("models.dinov2")
    if not missing:
        return
    sys.meta_path.append(_StandInFinder(missing))
    if "timm" in missing:  # the two timm names the timed path does use
        import timm.layers
        import timm.models.layers
        import timm.data.constants as c
        trunc = lambda t, mean=0.0, std=1.0, a=-2.0, b=2.0: torch.nn.init.trunc_normal_(t, mean, std, a, b)
        timm.layers.trunc_normal_ = trunc
        timm.models.layers.trunc_normal_ = trunc
        c.IMAGENET_DEFAULT_MEAN, c.IMAGENET_DEFAULT_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
        c.IMAGENET_INCEPTION_MEAN, c.IMAGENET_INCEPTION_STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)


class ImageFiles:
    """Image files under a folder, opened with PIL as the official datasets do;
    root "synthetic": 64 smooth random 256-px grey images made here (for a host
    without data: the step's cost does not depend on the pixels)."""

    def __init__(self, root, transform):
        self.transform = transform
        self.synthetic = root == "synthetic"
        if self.synthetic:
            self.files = list(range(64))
            return
        exts = ("*.png", "*.jpg", "*.jpeg", "*.PNG", "*.JPG", "*.JPEG")
        self.files = sorted(f for e in exts for f in glob.glob(os.path.join(root, "**", e), recursive=True))
        if not self.files:
            raise SystemExit(f"no .png/.jpg images under {root}")

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        from PIL import Image
        if self.synthetic:
            import numpy as np
            rng = np.random.default_rng(i)
            y, x = np.mgrid[0:256, 0:256] / 256.0
            img = 0.5 + 0.25 * np.sin(rng.uniform(2, 9) * x + rng.uniform(0, 6)) * np.cos(rng.uniform(2, 9) * y)
            img = np.clip(img + 0.05 * rng.standard_normal((256, 256)), 0, 1)
            return self.transform(Image.fromarray((img * 255).astype(np.uint8)).convert("RGB"))
        return self.transform(Image.open(self.files[i]).convert("RGB"))


def pin_nested(data):
    """The batch (nested lists of tensors) in page-locked memory."""
    if isinstance(data, (list, tuple)):
        return type(data)(pin_nested(d) for d in data)
    return data.pin_memory() if hasattr(data, "pin_memory") else data


def step_flops_per_image(a, ke, kp):
    """METHOD 9.1 FLOP model of one iwm_dual_easy step per image (GEMMs only)."""
    dims = {"vit_tiny": (192, 12), "vit_small": (384, 12), "vit_base": (768, 12), "vit_large": (1024, 24)}
    d, depth = dims[a.model]
    n, p, lp, patch = (a.input_size // 16) ** 2, a.pred_emb_dim, a.pred_depth, 16
    blk = lambda t, w: 24 * t * w * w + 4 * t * t * w
    pe = 2 * n * 3 * patch * patch * d
    ft, fc = pe + depth * blk(n, d), pe + depth * blk(ke, d)
    fp = 2 * ke * d * p + 2 * kp * (p + 5) * p + 4 * kp * p * p + lp * blk(ke + kp, p) + 2 * kp * p * d
    return 2 * ft + 3 * (2 * fc + 4 * fp)


def layer_norm_fp32_under_cpu_autocast():
    """CUDA autocast's layer_norm policy (compute in fp32) for CPU autocast."""
    import torch
    import torch.nn.functional as F
    original = F.layer_norm

    def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
        if torch.is_autocast_cpu_enabled():
            with torch.autocast("cpu", enabled=False):
                f = lambda t: None if t is None else t.float()
                return original(input.float(), normalized_shape, f(weight), f(bias), eps)
        return original(input, normalized_shape, weight, bias, eps)

    F.layer_norm = layer_norm


def peak_rss_mb():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def official_args(a):
    from opts import parser
    argv = ["--ssl_type", "iwm_dual_easy", "--model", a.model, "--input_size", str(a.input_size),
            "--resize_size", str(a.input_size), "--patch_size", "16", "--batch_size", str(a.batch_size),
            "--aug_type", "jit", "--crop_type", "rrc", "--scale_min", "0.3", "--amp",
            "--lr", "2e-4", "--min_lr", "1e-6", "--weight_decay", "0.05", "--weight_decay_end", "0.05",
            "--clip_grad", "1", "--ema", "0.996", "--loss_type", "l2",
            "--pred_emb_dim", str(a.pred_emb_dim), "--pred_depth", str(a.pred_depth),
            "--mask_type", "multi_multiblock", "--enc_mask_scale", "0.75", "1.0", "--ipe_scale", "1.25",
            "--mask_merge", "--extra_mean", "--extra_global_scale", "0.3", "1.0",
            "--mask_min_keep", str(a.min_keep),
            "--num_workers", str(a.workers), "--output_dir", "/tmp", "--seed", "0"]
    return parser.parse_args(argv)


def count_ops(a, args, model, core, optimizer, scaler, data, torch):
    """One step's aten:: operators by phase (every thread, nested calls
    included, as //benchmarks:op_count counts chexworld's), with the CUDA
    defaults of train_jepa.py's calls: AdamW and clip_grad_norm_ take their
    foreach paths, and the loss scaler (torch.cuda.amp.GradScaler, enabled on
    CUDA) is an enabled GradScaler. NativeScalerWithGradNormCount's call is
    spelled out to split backward from the optimizer."""
    import functools
    from torch.profiler import ProfilerActivity, profile
    torch.nn.utils.clip_grad_norm_ = functools.partial(torch.nn.utils.clip_grad_norm_, foreach=True)
    scaler._scaler = torch.amp.GradScaler("cpu")
    for g in optimizer.param_groups:
        g["foreach"] = True
    state = {}

    def forward():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "bf16"):
            state["loss"] = model(data, args)["loss"]

    def backward():
        scaler._scaler.scale(state["loss"]).backward()

    def optimize():
        scaler._scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip_grad)
        scaler._scaler.step(optimizer)
        scaler._scaler.update()
        optimizer.zero_grad(set_to_none=True)

    def ema():
        core.update_target_encoder(0.996)

    phases = [("forward", forward), ("backward", backward), ("optimizer", optimize), ("ema", ema)]
    for _, fn in phases:  # one step first: nothing made once is counted
        fn()
    counts = {}
    for name, fn in phases:
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            fn()
        counts[name] = sum(1 for e in prof.events() if e.name.startswith("aten::"))
    counts["step"] = sum(counts.values())
    print(f"official {args.ssl_type} step, {a.model}/{a.input_size}, predictor {a.pred_emb_dim}x{a.pred_depth}, "
          f"{a.precision}, torch {torch.__version__}; aten:: operators dispatched:")
    for name, n in counts.items():
        print(f"  {name:<10} {n:6d}")
    if a.json:
        import json
        print(json.dumps(dict(side="official", config=f"{a.model}/{a.input_size}", torch=torch.__version__, **counts)))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--official_root", required=True, help="checkout of LeapLabTHU/CheXWorld")
    p.add_argument("--images", required=True,
                   help="folder of .png/.jpg radiographs (searched recursively), or 'synthetic'")
    p.add_argument("--model", default="vit_tiny")
    p.add_argument("--input_size", type=int, default=224)
    p.add_argument("--batch_size", type=int, default=16)
    p.add_argument("--pred_emb_dim", type=int, default=192)
    p.add_argument("--pred_depth", type=int, default=6)
    p.add_argument("--min_keep", type=int, default=0,
                   help="mask validity threshold; 0: 10, or 4 at grids of 8x8 and below (the official 10 "
                        "loops forever there, METHOD 2)")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                   help="cuda: the model on the GPU, each batch moved as train_jepa.py moves it")
    p.add_argument("--json", action="store_true", help="also print one JSON line of every figure")
    p.add_argument("--count_ops", action="store_true",
                   help="count the aten:: operators of one step by phase with the composition train_jepa.py has on "
                        "CUDA (foreach AdamW and clipping, an enabled GradScaler), on CPU tensors, and exit")
    p.add_argument("--mode", choices=["files", "memory"], default="files")
    p.add_argument("--workers", type=int, default=2, help="DataLoader worker processes (files mode)")
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads (per rank)")
    p.add_argument("--ranks", type=int, default=1, help="data-parallel processes (Gloo, DDP)")
    p.add_argument("--port", type=int, default=29581, help="rendezvous port on 127.0.0.1 when --ranks > 1")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--flops", action="store_true", help="count one step's FLOPs with torch.profiler")
    p.add_argument("--profile", type=int, default=0, metavar="N",
                   help="print the N operators with the most self CPU time in one step")
    a = p.parse_args()
    if a.min_keep == 0:
        a.min_keep = 4 if a.input_size // 16 <= 8 else 10
    if a.device == "cuda" and a.ranks > 1:
        raise SystemExit("--ranks > 1 is for CPU (Gloo) comparisons")
    if a.ranks > 1:
        if a.batch_size % a.ranks:
            raise SystemExit(f"--batch_size {a.batch_size} does not split over {a.ranks} ranks")
        import torch.multiprocessing as mp
        mp.spawn(run, args=(a,), nprocs=a.ranks, join=True)
    else:
        run(0, a)


def run(rank, a):
    sys.path.insert(0, os.path.abspath(a.official_root))
    install_stand_ins()
    import logging
    import torch
    logging.disable(logging.INFO)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    layer_norm_fp32_under_cpu_autocast()
    global_batch = a.batch_size
    if a.ranks > 1:
        import torch.distributed as dist
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{a.port}", rank=rank, world_size=a.ranks)
        a.batch_size //= a.ranks
        a.workers = max(1, a.workers // a.ranks) if a.workers > 0 else 0

    from data_utils.xray_transform_add import build_world_model_dual_transform
    from masks import build_mask_collator
    from models import init_jepa_model
    from util import add_weight_decay, nested_to_gpu
    from util.misc import NativeScalerWithGradNormCount

    args = official_args(a)
    transform = build_world_model_dual_transform(args)
    collator = build_mask_collator(args)
    dataset = ImageFiles(a.images, transform)
    device = torch.device(a.device)
    cuda = device.type == "cuda"
    model = init_jepa_model(device=device, args=args, ssl_type=args.ssl_type)
    model.train()
    core = model
    if a.ranks > 1:
        from torch.nn.parallel import DistributedDataParallel
        model = DistributedDataParallel(model, static_graph=True)
        core = model.module
    optimizer = torch.optim.AdamW(add_weight_decay(core, args.weight_decay), betas=args.betas)
    for g in optimizer.param_groups:
        g["lr"] = args.lr
    import warnings
    warnings.filterwarnings("ignore")
    scaler = NativeScalerWithGradNormCount()

    def step(data):
        # train_jepa.py moves the batch and wraps the forward in CUDA bf16
        # autocast; on CPU the equivalent is CPU autocast, or none for fp32.
        if cuda:
            data = nested_to_gpu(data, device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=a.precision == "bf16"):
            out = model(data, args)
        loss = out["loss"]
        scaler(loss, optimizer, clip_grad=args.clip_grad, parameters=model.parameters(),
               create_graph=False, update_grad=True)
        optimizer.zero_grad(set_to_none=True)
        core.update_target_encoder(0.996)
        value = loss.item()
        if cuda:
            torch.cuda.synchronize()  # as train_jepa.py, every step
        return value

    total = a.warmup + a.steps
    if a.mode == "files":
        sampler = None
        if a.ranks > 1:
            sampler = torch.utils.data.distributed.DistributedSampler(dataset, num_replicas=a.ranks, rank=rank,
                                                                      shuffle=True, seed=0)
        loader = torch.utils.data.DataLoader(dataset, collate_fn=collator, batch_size=a.batch_size,
                                             shuffle=sampler is None, sampler=sampler, drop_last=True,
                                             num_workers=a.workers, persistent_workers=a.workers > 0,
                                             # Ranks are spawned processes; forked workers inherit the
                                             # stand-in modules instead of re-importing the official code.
                                             multiprocessing_context="fork" if a.workers > 0 else None)
        def batches():
            while True:
                for b in loader:
                    yield b
    else:
        fixed = collator([dataset[i % len(dataset)] for i in range(a.batch_size)])
        if cuda:  # the official DataLoader's pin_memory
            fixed = pin_nested(fixed)
        def batches():
            while True:
                yield fixed

    it = batches()
    if a.count_ops:
        count_ops(a, args, model, core, optimizer, scaler, next(it), torch)
        return
    if a.flops or a.profile:
        from torch.profiler import profile, ProfilerActivity
        data = next(it)
        step(data)
        with profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
            step(data)
        events = prof.key_averages()
        flops = sum(e.flops for e in events if e.flops)
        print(f"flops_per_step: {flops:.4e}  per_image: {flops / a.batch_size / 1e9:.2f} GFLOP")
        if a.profile:
            print(events.table(sort_by="self_cpu_time_total", row_limit=a.profile))

    times, flops_per_image, losses = [], [], []
    start = None
    last = time.perf_counter()
    for s in range(total):
        data = next(it)  # data wait counts: this is the end-to-end rate
        if cuda and s == a.warmup:
            torch.cuda.reset_peak_memory_stats(device)
        losses.append(step(data))
        if s >= a.warmup:
            flops_per_image.append(step_flops_per_image(a, data[-2][0].shape[1], data[-1][0].shape[1]))
        now = time.perf_counter()
        if s == a.warmup - 1 or (a.warmup == 0 and s == 0):
            start = now
        elif s >= a.warmup:
            times.append(now - last)
        last = now
    rss = [peak_rss_mb()]
    if a.ranks > 1:
        import torch.distributed as dist
        gathered = [None] * a.ranks
        dist.all_gather_object(gathered, rss[0])
        rss = gathered
        dist.barrier()
        dist.destroy_process_group()
    if rank != 0:
        return
    rates = [global_batch / t for t in times]
    overall = global_batch * len(times) / (last - start)
    memory = ""
    figures = {"config": f"{a.model}/{a.input_size}", "batch": global_batch, "precision": a.precision,
               "device": a.device, "mode": a.mode, "ranks": a.ranks, "torch": torch.__version__,
               "images_per_s_median": statistics.median(rates), "images_per_s": overall,
               "step_ms_median": 1e3 * statistics.median(times), "steps": len(times),
               "gflop_per_image": statistics.mean(flops_per_image) / 1e9,
               "achieved_tflops": overall * statistics.mean(flops_per_image) / 1e12,
               "peak_rss_mb": sum(rss), "loss_first": losses[0], "loss_last": losses[-1]}
    if cuda:
        figures["peak_cuda_allocated_bytes"] = torch.cuda.max_memory_allocated(device)
        figures["peak_cuda_reserved_bytes"] = torch.cuda.max_memory_reserved(device)
        memory = (f", CUDA peak allocated {figures['peak_cuda_allocated_bytes'] / 2**30:.2f} GiB, "
                  f"peak reserved {figures['peak_cuda_reserved_bytes'] / 2**30:.2f} GiB")
    print(f"official {args.ssl_type} {a.model}/{a.input_size} batch {global_batch} {a.precision} {a.device} "
          f"mode={a.mode} ranks={a.ranks} workers={a.workers if a.mode == 'files' else 0} threads={a.threads}: "
          f"median {statistics.median(rates):.2f} images/s, overall {overall:.2f} images/s over {len(times)} steps, "
          f"{overall * statistics.mean(flops_per_image) / 1e9:.1f} GFLOP/s (METHOD 9.1 model), "
          f"peak RSS {sum(rss):.0f} MB{memory}")
    if a.json:
        import json
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
