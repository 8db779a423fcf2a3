"""What each CPU speed-up candidate gives on this machine, against the plain eager fp32 loop, in one run.

    python benchmarks/cpu_candidates.py --out results/benchmarks/cpu-candidates-$(hostname).json
    python benchmarks/cpu_candidates.py --models dcgan --size 64 --rounds 3 --compile   # + torch.compile (slow)

Each candidate's training step (pix2pix-shaped networks: UNet down to 1×1, width 64; PatchGAN 3 layers, width
64; batch 16; batches in memory) is timed in interleaved rounds (every candidate once per round, so load on a
shared machine hits all alike), best of the rounds, as wall-clock seconds and as process CPU seconds (the
latter robust to other processes on the machine). Ratios are the reference loop's time over the candidate's.
The bf16 and fp32 2048² matrix-product rates measured in the same run say what the CPU's bf16 can give.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CANDIDATES = {
    "fp32": {"precision": "fp32"},
    "bf16": {"precision": "bf16"},
    "fp32+channels_last": {"precision": "fp32", "channels_last": True},
    "bf16+channels_last": {"precision": "bf16", "channels_last": True},
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="dcgan,wgan,wgan-gp")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--compile", action="store_true", help="also time fp32 and bf16 with torch.compile")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    os.environ.setdefault("GANBENCH_LOAD_PLUGINS", "ganbench")
    import torch

    from benchmarks.reference_loop import ReferenceLoop
    from ganbench.core.registry import load_registry
    from ganbench.train.batches import memory_batches
    from ganbench.train.bench import bench_trainer, matmul_peak, photo_batches
    from ganbench.train.machine import cpu_model
    from ganbench.train.precision import cpu_precision_choice

    if args.threads:
        torch.set_num_threads(args.threads)
    registry = load_registry()
    depth = args.size.bit_length() - 1
    sets = {"generator.base_channels": 64, "generator.depth": depth, "critic.base_channels": 64, "critic.layers": 3}
    candidates = dict(CANDIDATES)
    if args.compile:
        candidates["fp32+compile"] = {"precision": "fp32", "compile": True}
        candidates["bf16+compile"] = {"precision": "bf16", "compile": True}
    result = {"cpu": cpu_model(), "cores": os.cpu_count(), "threads": torch.get_num_threads(),
              "torch": torch.__version__, "python": platform.python_version(), "size": args.size,
              "batch": args.batch, "rounds": args.rounds,
              "matmul_gflops": {"fp32": matmul_peak("cpu", torch.float32) / 1e9,
                                "bf16": matmul_peak("cpu", torch.bfloat16) / 1e9},
              "default_choice": cpu_precision_choice(), "models": {}}
    for model in args.models.split(","):
        steps = {}
        loop = ReferenceLoop(model, {"depth": depth, "base_channels": 64}, {"base_channels": 64, "layers": 3})
        trainers = {}
        for name, kw in candidates.items():
            tr = bench_trainer(registry, model, args.size, args.batch, "cpu", sets=sets, **kw)
            trainers[name] = tr
            steps[name] = tr.train_step
        photos = photo_batches(args.size, args.batch, torch.device("cpu"), channels_last=False)
        ref_batches = [(L.contiguous(), ab.contiguous()) for L, ab in memory_batches(photos, loop.n_critic)]
        steps["reference"] = lambda loop=loop, b=ref_batches: loop.step(b)
        for fn in steps.values():  # warm-up (oneDNN primitives, compilation)
            fn()
        wall = {k: float("inf") for k in steps}
        cpu = {k: float("inf") for k in steps}
        for _ in range(args.rounds):
            for name, fn in steps.items():
                w0, c0 = time.perf_counter(), time.process_time()
                fn()
                wall[name] = min(wall[name], time.perf_counter() - w0)
                cpu[name] = min(cpu[name], time.process_time() - c0)
        rows = {name: {"wall_s": wall[name], "cpu_s": cpu[name], "speedup_wall": wall["reference"] / wall[name],
                       "speedup_cpu": cpu["reference"] / cpu[name]} for name in steps}
        result["models"][model] = rows
        print(f"{model} {args.size}px b{args.batch}: " + ", ".join(
            f"{n} {r['speedup_wall']:.2f}x wall / {r['speedup_cpu']:.2f}x cpu" for n, r in rows.items()
            if n != "reference"), flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
