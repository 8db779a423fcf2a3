"""The GPU check: one prepared command that shows ganbench working, and fast, on an accelerator.

    python benchmarks/gpu_check.py --out gpu-check            # on the GPU machine (at most ~8 minutes on an H100)
    python benchmarks/gpu_check.py --device cpu --quick --out /tmp/check   # the same code on a CPU, within 3 minutes

Writes into OUT, phase by phase (a phase that fails or runs out of time is recorded, the others still run):

- ``versions.json``: torch, CUDA, cuDNN, driver, Python, the device's name, its bf16 dense peak (datasheet for
  a known GPU) and the bf16 / fp32 matrix-product rates measured now;
- ``pytest-cuda.txt`` + ``pytest-cuda.xml``: ``pytest -m cuda`` (every recipe's step on the device against the CPU
  in fp32/bf16/fp16, the penalty's double backward under autocast, --compile on/off, channels_last on/off,
  interrupt + resume, colorize);
- ``bench.json``: ``bench_model`` of dcgan, wgan and wgan-gp at the pix2pix sizes (256², batch 64, UNet depth 8,
  width 64; PatchGAN 3 layers, width 64) with each speed-up on and off; on the defaults also the steps fed by
  the real input pipeline (real photos, data worker processes: ``e2e_images_per_s``) beside the in-memory steps;
- ``run/``: a short real ``ganbench run --models dcgan,wgan,wgan-gp`` (data loading, validation, report);
- ``profile-<model>.txt``: torch.profiler's top kernels where a throughput target is missed;
- ``summary.md``: the tables, the targets met or missed, and the projected wall-clock of ``--budget gpu``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Issue targets on one H100 (bf16 defaults): training images/s for dcgan, generator images/s for wgan-gp.
TARGETS = {"dcgan": 2500.0, "wgan-gp": 500.0}
GPU_BUDGET_IMAGES = 1_280_000

#: The whole check's default time limit in minutes: the GPU check, and the CPU stand-in (``--quick``), which
#: must end within 3 minutes on any CPU (one without native bf16 included).
MINUTES = {"full": 8.0, "quick": 3.0}
#: Seconds kept, when a phase starts, for the phases after it: a phase ends (a subprocess is stopped, the bench
#: starts no new row) that long before the deadline. The full check's real run also stops after 240 s.
RESERVE = {"full": {"bench": 150.0, "real_run": 60.0, "pytest_cuda": 20.0},
           "quick": {"bench": 100.0, "real_run": 35.0, "pytest_cuda": 8.0}}


def phase_seconds(phase: str, left: float, quick: bool) -> float:
    """The seconds ``phase`` may run, ``left`` seconds before the check's deadline: what is left less what the
    later phases keep (``RESERVE``), at least 1 s (a phase past the deadline is stopped at once, never
    skipped silently), and for the full check's real run at most 240 s."""
    seconds = max(1.0, left - RESERVE["quick" if quick else "full"][phase])
    return min(seconds, 240.0) if phase == "real_run" and not quick else seconds


def quick_test_filter(native_bf16: bool) -> str:
    """``pytest -k`` for the quick check's test subset: one test of each kind that is fast on a CPU. Where bf16
    is emulated (no AVX512-BF16/AMX, or oneDNN capped below them) the step's and the penalty's bf16 cases, each
    tens of times slower there, give way to their fp32 and fp16 cases: the same code paths, at fp32 speed."""
    if native_bf16:
        return "agrees_with_the_cpu and dcgan and bf16 or penalty and bf16 or channels_last"
    return "agrees_with_the_cpu and dcgan and fp32 or penalty and fp16 or channels_last"


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its finished children (wall time is noisy on a shared
    machine; this is what a phase cost)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _write(out: Path, name: str, data) -> None:
    path = out / name
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) if not isinstance(data, str) else data)
    tmp.replace(path)


def versions(device: str) -> dict:
    import torch

    from ganbench.train.bench import matmul_peak, table_peak_tflops
    from ganbench.train.machine import device_name

    dev = torch.device(device)
    info = {"python": platform.python_version(), "platform": platform.platform(), "torch": torch.__version__,
            "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version() if torch.cuda.is_available() else None,
            "device": str(dev), "device_name": device_name(dev), "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads()}
    if dev.type == "cuda":
        props = torch.cuda.get_device_properties(dev)
        info.update(capability=f"{props.major}.{props.minor}", memory_gb=round(props.total_memory / 2**30, 1),
                    sm_count=props.multi_processor_count)
        try:
            smi = subprocess.run(["nvidia-smi", "--query-gpu=driver_version,name,clocks.max.sm,power.limit",
                                  "--format=csv,noheader"], capture_output=True, text=True, timeout=20)
            info["nvidia_smi"] = smi.stdout.strip()
            info["driver"] = smi.stdout.split(",")[0].strip() if smi.returncode == 0 else None
        except (OSError, subprocess.SubprocessError):
            info["driver"] = None
        info["peak_bf16_tflops_datasheet"] = table_peak_tflops(info["device_name"])
    size = 8192 if dev.type == "cuda" else 2048
    native_bf16 = True
    if dev.type == "cpu":
        from ganbench.train.precision import cpu_has_native_bf16

        native_bf16 = info["cpu_native_bf16"] = cpu_has_native_bf16()
    # each rate a few seconds at most (matmul_peak shrinks the product to fit); an emulated bf16 rate is no peak
    info["matmul_bf16_tflops_measured"] = matmul_peak(dev, torch.bfloat16, n=size) / 1e12 if native_bf16 else None
    info["matmul_fp32_tflops_measured"] = matmul_peak(dev, torch.float32, n=size) / 1e12
    return info


def run_cuda_tests(out: Path, device: str, quick: bool, timeout: float) -> dict:
    env = {**os.environ, "GANBENCH_TEST_DEVICE": device, "GANBENCH_LOAD_PLUGINS": "ganbench"}
    cmd = [sys.executable, "-m", "pytest", "-m", "cuda", "-q", "-rA", "-p", "no:cacheprovider",
           str(ROOT / "tests" / "train" / "test_cuda.py"), f"--junitxml={out / 'pytest-cuda.xml'}"]
    if quick:  # the CPU stand-in: one test of each kind that is fast on a CPU (compile alone takes minutes)
        from ganbench.train.precision import cpu_has_native_bf16

        cmd += ["-k", quick_test_filter(device != "cpu" or cpu_has_native_bf16())]
    t0 = time.perf_counter()
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)
        text, rc = res.stdout + res.stderr, res.returncode
    except subprocess.TimeoutExpired as exc:  # its output arrives as bytes, whatever text=True says
        partial = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout or ""
        text, rc = f"{partial}\nTIMED OUT after {timeout:.0f} s", 124
    (out / "pytest-cuda.txt").write_text(text if isinstance(text, str) else text.decode())
    last = [line for line in str(text).splitlines() if " passed" in line or " failed" in line or "error" in line]
    return {"returncode": rc, "summary": last[-1] if last else "", "seconds": round(time.perf_counter() - t0, 1)}


def bench_configs(device: str, quick: bool) -> list[dict]:
    """(label, bench_model keyword arguments): the defaults a user gets, then each speed-up off (or on)."""
    if quick:  # on a CPU the default is fp32 already: one configuration
        return [{"label": "default", "precision": None}] + ([] if device == "cpu" else [
            {"label": "fp32", "precision": "fp32"}])
    return [
        {"label": "default (bf16, channels_last)", "precision": None},
        {"label": "fp32 (TF32 convs)", "precision": "fp32"},
        {"label": "bf16, NCHW", "precision": "bf16", "channels_last": False},
        {"label": "bf16 + compile", "precision": "bf16", "compile": True},
    ]


def run_bench(out: Path, device: str, quick: bool, deadline: float, results: list) -> None:
    from ganbench.core.registry import load_registry
    from ganbench.train.bench import bench_model

    registry = load_registry()
    if quick:
        shape = {"image_size": 32, "batch_size": 4, "steps": 2, "warmup": 1, "budget": "smoke"}
    else:  # pix2pix sizes: UNet down to 1x1 (depth 8 at 256²), width 64; PatchGAN 3 layers, width 64
        shape = {"image_size": 256, "batch_size": 64, "steps": 20, "warmup": 5, "budget": "gpu"}
    for conf in bench_configs(device, quick):
        for model in ("dcgan", "wgan", "wgan-gp"):
            if time.time() > deadline:
                results.append({"model": model, "config": conf["label"], "skipped": "out of time"})
                _write(out, "bench.json", results)
                continue
            kw = {k: v for k, v in conf.items() if k != "label"}
            try:
                default = conf["label"].startswith("default")  # the data path: once, on the defaults
                data_seconds = 1.0 if default else 0.0
                # on the defaults, also the same steps fed by the real input pipeline (real photos, the data
                # workers a run has on this host), end to end, beside the in-memory steps
                row = bench_model(registry, model, device=device, data_seconds=data_seconds, with_data=default,
                                  **shape, **kw)
                row["config"] = conf["label"]
                row["generator_images_per_s"] = row["images_per_s"]
            except Exception as exc:  # a failing configuration is a result, not the end of the check
                row = {"model": model, "config": conf["label"], "error": f"{type(exc).__name__}: {exc}"}
            results.append(row)
            _write(out, "bench.json", results)


def profile_step(out: Path, device: str, model: str, quick: bool) -> None:
    """Top kernels of a few training steps (where a target is missed: where the time goes)."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    from ganbench.core.registry import load_registry
    from ganbench.train.bench import bench_trainer

    size, batch = (32, 4) if quick else (256, 64)
    trainer = bench_trainer(load_registry(), model, size, batch, device, budget="smoke" if quick else "gpu")
    for _ in range(3):
        trainer.train_step()
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if trainer.device.type == "cuda" else [])
    with profile(activities=acts) as prof:
        for _ in range(3):
            trainer.train_step()
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()
    key = "cuda_time_total" if trainer.device.type == "cuda" else "cpu_time_total"
    table = prof.key_averages().table(sort_by=key, row_limit=25)
    (out / f"profile-{model}.txt").write_text(f"# torch.profiler, 3 steps of {model} at {size}², batch {batch}\n\n"
                                              + table)


def real_run(out: Path, device: str, quick: bool, timeout: float) -> dict:
    """A short real comparison through data loading, validation, scoring and the report."""
    budget = "smoke" if quick else "gpu,images=12800"
    cmd = [sys.executable, "-m", "ganbench", "run", "--models", "dcgan,wgan,wgan-gp", "--budget", budget,
           "--device", device, "--results", str(out / "run"), "--eval-every", "2" if quick else "50"]
    env = {**os.environ, "GANBENCH_LOAD_PLUGINS": "ganbench", "COLUMNS": "200"}
    t0 = time.perf_counter()
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        text, rc = res.stdout + "\n" + res.stderr[-4000:], res.returncode
    except subprocess.TimeoutExpired:
        text, rc = f"TIMED OUT after {timeout:.0f} s", 124
    (out / "run.txt").write_text(" ".join(cmd) + "\n\n" + text)
    return {"command": " ".join(cmd[1:]), "returncode": rc, "seconds": round(time.perf_counter() - t0, 1)}


def _tflops(value: float | None) -> str:
    return "— (bf16 emulated)" if value is None else f"{value:.3g}"


def summarize(info: dict, bench: list, tests: dict | None, run: dict | None, device: str) -> str:
    lines = [f"# ganbench GPU check — {info.get('device_name')}", "",
             f"torch {info.get('torch')}, CUDA {info.get('cuda')}, cuDNN {info.get('cudnn')}, driver "
             f"{info.get('driver')}, Python {info.get('python')}; bf16 matmul measured "
             f"{_tflops(info.get('matmul_bf16_tflops_measured'))} TFLOP/s, fp32 "
             f"{info.get('matmul_fp32_tflops_measured', 0):.3g} (datasheet bf16 dense peak: "
             f"{info.get('peak_bf16_tflops_datasheet')}).", "",
             "| config | model | train images/s | G steps/s | step ms | TFLOP/s | share of bf16 peak | peak MB | "
             "data images/s |", "|---|---|---|---|---|---|---|---|---|"]
    for r in bench:
        if "images_per_s" not in r:
            lines.append(f"| {r.get('config')} | {r.get('model')} | {r.get('error') or r.get('skipped')} |||||||")
            continue
        share = r.get("achieved_share_of_peak")
        mem = r.get("peak_cuda_mb") or r.get("peak_cpu_rss_mb")
        data = r.get("data_images_per_s")
        lines.append(f"| {r['config']} | {r['model']} | {r['images_per_s']:.0f} | {r['generator_steps_per_s']:.2f} | "
                     f"{r['step_ms']:.1f} | {r.get('achieved_tflops') or 0:.1f} | "
                     f"{'—' if share is None else f'{100 * share:.1f} %'} | {mem:.0f} | "
                     f"{'—' if not data else f'{data:.0f}'} |")
    defaults = {r["model"]: r for r in bench if r.get("config", "").startswith("default") and "images_per_s" in r}
    lines += ["", "## Targets (bf16 defaults)", ""]
    for model, target in TARGETS.items():
        r = defaults.get(model)
        got = r["images_per_s"] if r else None
        lines.append(f"- {model}: {'—' if got is None else f'{got:.0f}'} images/s against {target:.0f}: "
                     f"{'met' if got and got >= target else 'MISSED'}")
    for model, r in defaults.items():
        data = r.get("data_images_per_s")
        if data:
            ok = data >= 3 * r["images_per_s"]
            lines.append(f"- data pipeline for {model}: {data:.0f} images/s = {data / r['images_per_s']:.1f}× "
                         f"training ({'met' if ok else 'MISSED'}: at least 3×)")
    for model, r in defaults.items():
        fed = r.get("e2e_images_per_s")
        if fed:
            lines.append(f"- {model} fed by the real pipeline ({r['data_workers']} data workers, real photos): "
                         f"{fed:.0f} images/s end to end against {r['images_per_s']:.0f} in memory "
                         f"({100 * fed / r['images_per_s']:.0f} %; waiting for data {100 * r['data_share']:.0f} % of "
                         f"the time; batches built in the training process would give "
                         f"{r.get('serial_images_per_s', 0):.0f})")
    if defaults:
        hours = {m: GPU_BUDGET_IMAGES / r["images_per_s"] / 3600 for m, r in defaults.items()}
        total = sum(hours.values())
        lines.append(f"- `--budget gpu` ({GPU_BUDGET_IMAGES:,} generator images each), projected from the step "
                     f"alone: " + ", ".join(f"{m} {h:.2f} h" for m, h in hours.items())
                     + f"; {total:.2f} h together ({'met' if total < 2 else 'MISSED'}: under 2 h; add evaluation)")
    if tests is not None:
        lines += ["", f"## pytest -m cuda: {tests.get('summary')}",
                  "", f"rc {tests.get('returncode')}, {tests.get('seconds')} s; pytest-cuda.txt has the output."]
    if run is not None:
        lines += ["", f"## real run: rc {run['returncode']}, {run['seconds']} s", "", f"`{run['command']}`; "
                  "its output in run.txt, its report in run/report/."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--quick", action="store_true", help="tiny sizes and a test subset (the CPU stand-in)")
    ap.add_argument("--minutes", type=float, default=None,
                    help="the whole check's time limit (default 8; with --quick 3)")
    args = ap.parse_args(argv)
    os.environ.setdefault("GANBENCH_LOAD_PLUGINS", "ganbench")
    start = time.time()
    deadline = start + 60 * (args.minutes or MINUTES["quick" if args.quick else "full"])
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("error: --device cuda asked for, but torch sees no CUDA device (use --device cpu --quick)",
              file=sys.stderr)
        return 2
    status: dict = {"phases": {}, "command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])])}

    def phase(name, fn):
        t0, c0 = time.perf_counter(), cpu_seconds()
        try:
            value = fn()
            status["phases"][name] = {"ok": True, "seconds": round(time.perf_counter() - t0, 1),
                                      "cpu_seconds": round(cpu_seconds() - c0, 1)}
            return value
        except Exception as exc:
            status["phases"][name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}",
                                      "traceback": traceback.format_exc()[-3000:]}
            return None
        finally:
            _write(out, "status.json", status)
            done = status["phases"][name]
            print(f"[gpu_check] {name}: {done.get('seconds', 'failed')} s ({done.get('cpu_seconds', '?')} s CPU)",
                  flush=True)

    info = phase("versions", lambda: versions(args.device)) or {}
    _write(out, "versions.json", info)
    bench: list = []
    # the numbers that matter first; compile variants last in the list (their compilation is the slow part)
    left = lambda: deadline - time.time()  # noqa: E731
    phase("bench", lambda: run_bench(out, args.device, args.quick,
                                     time.time() + phase_seconds("bench", left(), args.quick), bench))
    run = phase("real_run", lambda: real_run(out, args.device, args.quick,
                                             phase_seconds("real_run", left(), args.quick)))
    tests = phase("pytest_cuda", lambda: run_cuda_tests(out, args.device, args.quick,
                                                        phase_seconds("pytest_cuda", left(), args.quick)))
    missed = [m for m, t in TARGETS.items()
              if any(r.get("model") == m and r.get("config", "").startswith("default")
                     and r.get("images_per_s", 0) < t for r in bench)]
    if args.quick:
        missed = missed[:1]  # exercise the profiler path on the stand-in
    for model in missed:
        if time.time() < deadline - 10:
            phase(f"profile_{model}", lambda m=model: profile_step(out, args.device, m, args.quick))
    _write(out, "summary.md", summarize(info, bench, tests, run, args.device))
    status["seconds"] = round(time.time() - start, 1)
    status["cpu_seconds"] = round(cpu_seconds(), 1)
    _write(out, "status.json", status)
    print((out / "summary.md").read_text())
    failed = [n for n, p in status["phases"].items() if not p.get("ok")]
    bad = failed or (tests or {}).get("returncode") not in (0, None) or (run or {}).get("returncode") not in (0, None)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
