"""Comparisons: plan every run up front (fail fast on bad input), then train, score and store each one.

The CLI is a thin layer over :func:`plan_comparison` and :func:`run_comparison`; tests call them directly.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import platform
import subprocess
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from ganbench import __version__
from ganbench.core.budgets import Budget, parse_budget
from ganbench.core.config import DEFAULT_METRICS, ConfigFile, RunConfig, resolve_recipe, run_identity
from ganbench.core.contract import DatasetSplits, OptimizerSpec
from ganbench.core.errors import ConfigError, GanbenchError, ResultsError
from ganbench.core.registry import Registry
from ganbench.data.pipeline import PreparedData, prepare_splits, prepare_test
from ganbench.score.diagnostics import adversary_summary
from ganbench.score.evaluate import evaluate_images, gray_uint8, reference_scores, summarize
from ganbench.store.images import grid, save_png
from ganbench.store.results import (
    RunDir,
    atomic_torch_save,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    claim_run,
    create_run,
    ensure_writable,
    find_existing,
    open_run,
    safe_load,
    who,
)
from ganbench.train.distributed import barrier, broadcast_object, local_device
from ganbench.train.distributed import info as dist_info
from ganbench.train.machine import device_name, kernel_info
from ganbench.train.precision import AUTOCAST, check_compile_supported, default_precision, resolve_device
from ganbench.train.trainer import (
    StopFlag,
    StopRequested,
    Trainer,
    TrainResult,
    check_penalty_critic,
    count_flops_per_image,
    flops_spent,
)

#: Fixed test crops shown in sample grids (the first ones, in the dataset's stable order).
SAMPLE_COUNT = 8


class Reporter(Protocol):
    def start(self, label: str, total: int | None) -> None: ...
    def advance(self, completed: int, info: str = "") -> None: ...
    def finish(self, status: str) -> None: ...
    def message(self, text: str) -> None: ...


class SilentReporter:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def start(self, label, total):
        pass

    def advance(self, completed, info=""):
        pass

    def finish(self, status):
        pass

    def message(self, text):
        self.messages.append(text)


@dataclass
class RunRequest:
    """What a user asked for; :func:`plan_comparison` turns it into validated RunConfigs."""

    models: list[str]
    dataset: str = "embedded"
    dataset_options: dict[str, Any] = field(default_factory=dict)
    budget: str | None = None
    seeds: list[int] = field(default_factory=lambda: [0])
    device: str = "auto"
    precision: str | None = None
    compile: bool = False
    sets: dict[str, Any] = field(default_factory=dict)
    config: ConfigFile = field(default_factory=ConfigFile)
    results: Path = Path("results")
    eval_every: int | None = None
    checkpoint_every: int = 100
    metrics: list[str] | None = None
    ema: float = 0.0
    colorfulness_floor: float = 1 / 3
    image_size: int | None = None
    batch_size: int | None = None
    cache_dir: Path | None = None
    command: str = ""
    #: False when an executor runs the grid elsewhere (a SLURM node): ``device`` is then taken as named
    #: (``cuda`` planned on a login node without GPUs), not checked against this machine.
    device_here: bool = True
    #: train afresh even where a complete run with the same key exists (the old one stays on disk)
    rerun: bool = False


@dataclass
class RunOutcome:
    model: str
    seed: int
    status: str  # complete | diverged | skipped (already complete) | claimed (another process trains it)
    run_dir: Path
    metrics: dict[str, Any] | None = None


def check_shapes(registry: Registry, recipe: dict[str, Any], budget: Budget, model: str) -> None:
    """Build the networks on the meta device, the loss and the optimisers, and run one forward: a plugin that
    fails to build says so (exit 4), and an image size that does not suit the generator's depth (or the
    critic) fails here, before any training, with a one-line error."""
    size = budget.image_size
    with torch.device("meta"):
        g, d = (registry.build(recipe, part, budget.size_hints(part)) for part in ("generator", "critic"))
    check_penalty_critic(registry.build(recipe, "loss"), d, recipe["loss"], model)
    for key, net in (("generator_optimizer", g), ("critic_optimizer", d)):
        try:
            OptimizerSpec.from_dict(recipe[key]).build(net.parameters(), torch.device("meta"))
        except ConfigError as exc:
            raise ConfigError(f"model '{model}': {key}: {exc}") from None
    try:
        with torch.device("meta"):
            out = g(torch.zeros(1, 1, size, size))
            if tuple(out.shape) != (1, 2, size, size):
                raise RuntimeError(f"generator output {tuple(out.shape)}")
            d(torch.zeros(1, 3, size, size))
    except (RuntimeError, ValueError) as exc:  # what torch raises for mismatched shapes
        depth = recipe.get("generator_options", {}).get("depth", getattr(g, "depth", None))
        hint = f" (generator depth {depth}: the size must be a multiple of 2^{depth} = {2**depth})" if depth else ""
        detail = "" if hint else f": {str(exc).splitlines()[0][:200]}"
        raise ConfigError(f"model '{model}': image size {size} does not suit its networks{hint}{detail}") from None


def plan_comparison(request: RunRequest, registry: Registry) -> list[RunConfig]:
    """Validate everything a comparison needs and return one RunConfig per (model, seed)."""
    if not request.models:
        raise ConfigError("no models given: use --models dcgan,wgan,wgan-gp")
    if len(set(request.models)) != len(request.models):
        raise ConfigError("a model is named twice in --models")
    device = (local_device(resolve_device(request.device), dist_info()) if request.device_here
              else torch.device(request.device))
    precision = request.precision or default_precision(device)
    if precision not in AUTOCAST:
        raise ConfigError(f"unknown precision '{precision}': use fp32, bf16 or fp16")
    if request.compile:
        check_compile_supported()
    budget = parse_budget(request.budget, default="gpu" if device.type == "cuda" else "cpu")
    if request.image_size is not None:
        budget = replace(budget, image_size=request.image_size)
    if request.batch_size is not None:
        budget = replace(budget, batch_size=request.batch_size)
    if budget.batch_size < 1:
        raise ConfigError(f"batch size must be >= 1, got {budget.batch_size}")
    if budget.image_size < 16:
        raise ConfigError(f"image size must be >= 16, got {budget.image_size}")
    metrics = request.metrics or list(DEFAULT_METRICS)
    for name in metrics:
        registry.get("metric", name)
    if "psnr" not in metrics:
        raise ConfigError("the psnr metric is required (validation selects the best generator by it)")
    registry.get("dataset", request.dataset)
    eval_every = request.eval_every if request.eval_every is not None else budget.eval_every
    if eval_every < 0 or request.checkpoint_every < 0:
        raise ConfigError("--eval-every and --checkpoint-every must be >= 0")
    if not 0 <= request.colorfulness_floor <= 1:
        raise ConfigError(f"--colorfulness-floor must be in [0, 1], got {request.colorfulness_floor:g}")
    if not 0 <= request.ema < 1:
        raise ConfigError(f"--ema must be in [0, 1) (a decay; 0 = off), got {request.ema:g}")
    configs = []
    for model in request.models:
        recipe = resolve_recipe(registry, model, request.config, budget, request.sets)
        check_shapes(registry, recipe, budget, model)
        identity = run_identity(registry, recipe, request.dataset, list(metrics))
        for seed in request.seeds:
            configs.append(RunConfig(
                model=model, recipe=recipe, dataset=request.dataset,
                dataset_options=_normalise_options(request.dataset_options), budget=budget.to_dict(),
                seed=seed, device=str(device), precision=precision, compile=request.compile,
                eval_every=eval_every, checkpoint_every=request.checkpoint_every, metrics=list(metrics),
                ema=request.ema, colorfulness_floor=request.colorfulness_floor, identity=identity,
            ))
    return configs


def _normalise_options(options: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in options.items():
        if v is None:
            continue
        if k in ("data_root", "test_root"):
            v = str(Path(v).expanduser().resolve())
        out[k] = v
    return out


def load_data(registry: Registry, cfg: RunConfig, cache_dir: Path | None, reporter: Reporter) -> PreparedData:
    splits = _dataset_splits(registry, cfg.dataset, cfg.dataset_options)
    return prepare_splits(splits, cfg.image_size, cache_dir=cache_dir, warn=reporter.message)


def _dataset_splits(registry: Registry, dataset: str, options: dict[str, Any]) -> DatasetSplits:
    return registry.create("dataset", dataset, **options)  # a dataset's OSError is a DataError there


def provenance(device: torch.device) -> dict[str, Any]:
    commit, dirty = None, None
    src = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=False)
        if out.returncode == 0:
            commit = out.stdout.strip()
            status = subprocess.run(["git", "-C", str(src), "status", "--porcelain", "--untracked-files=no"],
                                    capture_output=True, text=True, timeout=5, check=False)
            dirty = bool(status.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return {
        "ganbench_version": __version__, "git_commit": commit, "git_dirty": dirty, "torch_version": torch.__version__,
        "python": platform.python_version(), "platform": platform.platform(), "device": str(device),
        "device_name": device_name(device), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        **kernel_info(device), "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _csv(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    buf = io.StringIO()
    fields = list(dict.fromkeys(k for row in rows for k in row))
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def run_comparison(
    request: RunRequest, registry: Registry, reporter: Reporter | None = None, stop: StopFlag | None = None
) -> list[RunOutcome]:
    """Train and score every (model, seed). A finished run with the same settings is skipped, an
    interrupted one resumed. A diverged model does not stop the comparison."""
    return train_planned(request, plan_comparison(request, registry), registry, reporter, stop)


def train_planned(
    request: RunRequest, configs: list[RunConfig], registry: Registry, reporter: Reporter | None = None,
    stop: StopFlag | None = None,
) -> list[RunOutcome]:
    """Train these planned runs one after another in this process (a grid worker passes one).

    Each run is first claimed by its key (:func:`ganbench.store.results.claim_run`): a run another process is
    training right now is left to it (status ``claimed``), so two workers never train the same run."""
    reporter = reporter or SilentReporter()
    di = dist_info()
    if di.is_main:
        ensure_writable(request.results)
    data = load_data(registry, configs[0], request.cache_dir, reporter)
    record_base = {"command": request.command, "comparison": configs[0].comparison_key(),
                   "dataset_description": data.description,
                   "data": {"train_images": len(data.train), "val_crops": int(data.val.shape[0]),
                            "test_crops": int(data.test.shape[0]),
                            "skipped": [{"file": f, "reason": r} for f, r in data.skipped]}}
    outcomes = []
    for cfg in configs:
        decision, claim = None, None
        if di.is_main:  # only rank 0 looks at (and writes) the results folder; the others follow it
            claim = claim_run(request.results, cfg.run_key(), who(model=cfg.model, seed=cfg.seed))
            existing = find_existing(request.results, cfg.run_key()) if claim and not request.rerun else None
            if claim is None:
                decision = ("claimed", None)
            elif existing is not None and existing.record().get("status") == "complete":
                decision = ("skip", str(existing.path))
            elif existing is not None and existing.lock():
                decision = ("resume", str(existing.path))
            else:
                decision = ("new", None)
        kind, path = broadcast_object(decision)
        if kind == "claimed":
            reporter.message(f"{cfg.model} seed {cfg.seed}: another process is training it right now; left to it")
            outcomes.append(RunOutcome(cfg.model, cfg.seed, "claimed", request.results))
            continue
        if kind == "skip":
            claim and claim.release()
            reporter.message(f"{cfg.model} seed {cfg.seed}: already complete in {path}, skipped")
            outcomes.append(RunOutcome(cfg.model, cfg.seed, "skipped", Path(path)))
            continue
        if kind == "resume":
            reporter.message(f"{cfg.model} seed {cfg.seed}: resuming {path}" if has_checkpoint(RunDir(Path(path)))
                             else restart_message(cfg.to_dict(), Path(path)))
        resume = RunDir(Path(path)) if kind == "resume" else None
        if resume is not None and di.is_main:
            resume = existing  # holds the lock
        try:
            outcomes.append(execute_run(cfg, registry, data, request.results, reporter, record_base, stop,
                                        resume=resume))
        finally:
            claim and claim.release()
        barrier()
    return outcomes


def resume_run(path: Path, registry: Registry, reporter: Reporter | None = None,
               stop: StopFlag | None = None, cache_dir: Path | None = None) -> RunOutcome:
    """``ganbench run --resume RUN_DIR``: continue a run from its last checkpoint."""
    reporter = reporter or SilentReporter()
    run = open_run(path)
    record = run.record()
    if record.get("status") == "complete":
        reporter.message(f"{path} is already complete")
        return RunOutcome(record["config"]["model"], record["config"]["seed"], "skipped", run.path)
    if dist_info().is_main and not run.lock():  # data-parallel: rank 0 holds the lock for every rank
        raise ResultsError(f"{path} is being trained by another process right now")
    if not has_checkpoint(run):
        reporter.message(restart_message(record["config"], run.path))
    cfg = RunConfig(**record["config"])
    data = load_data(registry, cfg, cache_dir, reporter)
    base = {k: record[k] for k in ("command", "comparison", "dataset_description", "data") if k in record}
    return execute_run(cfg, registry, data, run.path.parent.parent, reporter, base, stop, resume=run)


def has_checkpoint(run: RunDir) -> bool:
    return (run.path / "state.pt").exists()


def restart_message(config: dict[str, Any], path: Path) -> str:
    return (f"{config['model']} seed {config['seed']}: {path} stopped before its first checkpoint; starting it "
            "again from step 0 (same seed and settings, so the same numbers)")


def execute_run(
    cfg: RunConfig, registry: Registry, data: PreparedData, results: Path, reporter: Reporter,
    record_base: dict[str, Any], stop: StopFlag | None, resume: RunDir | None = None,
) -> RunOutcome:
    device = torch.device(cfg.device)
    torch.manual_seed(cfg.seed)
    metrics = {name: registry.create("metric", name) for name in cfg.metrics}
    budget = Budget.from_dict(cfg.budget)
    total = budget.total_steps(len(data.train))
    label = f"{cfg.model} (seed {cfg.seed})"
    if not dist_info().is_main:
        return _follow_run(cfg, registry, data, metrics, device, budget, total, stop, resume)
    if resume is not None:
        run = resume
        record = run.record()
        if has_checkpoint(run):
            record.update(status="running", resumed=record.get("resumed", 0) + 1)
        else:  # stopped before its first checkpoint: start again from step 0, in place
            record.update(status="running", restarted=record.get("restarted", 0) + 1, provenance=provenance(device))
        run.write_record(record)
    else:
        record = {**record_base, "key": cfg.run_key(), "identity": cfg.identity, "config": cfg.to_dict(),
                  "provenance": provenance(device),
                  "budget": {**cfg.budget, "total_steps": total}}
        run = create_run(results, cfg.model, cfg.seed, record)

    def checkpoint(state: dict[str, Any]) -> None:
        atomic_torch_save(run.path / "state.pt", state)

    def on_step(tr: Trainer) -> None:
        info = ""
        if tr.history:
            h = tr.history[-1]
            info = "  ".join(f"{label} {h[k]:.{digits}f}" for label, k, digits in
                             (("D", "d_loss", 3), ("G", "g_adv", 3), ("L1", "g_l1", 4)) if h[k] is not None)
        if tr.val_history:
            info += f"  val {tr.val_history[-1]['val_psnr']:.2f} dB"
        reporter.advance(tr.counters.step, info)

    trainer = Trainer(cfg, registry, data, device, metrics, on_step=on_step, stop=stop, checkpoint=checkpoint)
    if resume is not None and has_checkpoint(resume):
        trainer.load_state_dict(safe_load(run.path / "state.pt"))
    if hasattr(reporter, "opened"):  # a grid worker writes this run's log into its folder
        reporter.opened(run.path)
    reporter.start(label, total)
    reporter.advance(trainer.counters.step)
    try:
        result = trainer.train(total, budget.seconds, cfg.eval_every, cfg.checkpoint_every)
    except BaseException:
        reporter.finish("failed")
        with contextlib.suppress(GanbenchError):
            run.update_record(status="interrupted" if (run.path / "state.pt").exists() else "failed")
        run.unlock()
        raise
    reporter.finish(result.status)
    try:
        if result.status == "interrupted":
            run.update_record(status="interrupted", spent=_spent(result, trainer, budget))
            raise StopRequested(f"{label}: interrupted at step {result.counters.step}; checkpoint in {run.path}")
        _write_history(run, result)
        if result.status == "diverged":
            run.update_record(status="diverged", divergence=result.divergence,
                              spent=_spent(result, trainer, budget))
            reporter.message(f"{label}: diverged at step {result.divergence['step']} "
                             f"({', '.join(result.divergence['losses'])} not finite); last good checkpoint kept")
            return RunOutcome(cfg.model, cfg.seed, "diverged", run.path)
        summary = _finish(run, trainer, result, data, metrics, device)
        record = run.record()
        record.update(status="complete", spent=_spent(result, trainer, budget),
                      throughput=_throughput(result, trainer),
                      finished=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        run.write_record(record)  # last: a run is complete only when everything else is on disk
        (run.path / "state.pt").unlink(missing_ok=True)
        return RunOutcome(cfg.model, cfg.seed, "complete", run.path, summary)
    finally:
        run.unlock()


def _follow_run(cfg: RunConfig, registry: Registry, data: PreparedData, metrics, device, budget: Budget,
                total: int | None, stop: StopFlag | None, resume: RunDir | None) -> RunOutcome:
    """A data-parallel rank other than 0: the same training steps, no files written."""
    trainer = Trainer(cfg, registry, data, device, metrics, stop=stop)
    if resume is not None and has_checkpoint(resume):
        trainer.load_state_dict(safe_load(resume.path / "state.pt"))
    result = trainer.train(total, budget.seconds, cfg.eval_every, cfg.checkpoint_every, validate=False)
    if result.status == "interrupted":
        raise StopRequested(f"{cfg.model}: interrupted at step {result.counters.step}")
    return RunOutcome(cfg.model, cfg.seed, result.status, resume.path if resume else Path("."))


def _spent(result: TrainResult, trainer: Trainer, budget: Budget) -> dict[str, Any]:
    c = result.counters
    flops = getattr(trainer, "_flops", None)
    return {
        "generator_steps": c.step, "critic_steps": c.critic_steps, "images": c.images,
        "critic_images": c.critic_images, "train_seconds": round(c.step_seconds + c.data_seconds, 3),
        "step_seconds": round(c.step_seconds, 3), "data_seconds": round(c.data_seconds, 3),
        "eval_seconds": round(c.eval_seconds, 3),
        "flops": flops_spent(flops, c),
    }


def _throughput(result: TrainResult, trainer: Trainer) -> dict[str, Any]:
    c = result.counters
    ips = c.steady_images / c.steady_seconds if c.steady_seconds > 0 else (
        c.images / c.step_seconds if c.step_seconds > 0 else None)
    flops = getattr(trainer, "_flops", None)
    per_step = c.critic_steps / c.step if c.step else trainer.critic_steps_per_step  # warm-up included
    out = {
        "images_per_s": ips,
        "generator_steps_per_s": ips / trainer.cfg.batch_size if ips else None,
        "critic_steps_per_s": ips * per_step / trainer.cfg.batch_size if ips else None,
        "data_images_per_s": c.batches * trainer.cfg.batch_size / c.data_seconds if c.data_seconds > 0 else None,
        "params": trainer.param_counts(),
        "flops_per_image": flops,
        **{f"peak_{k}": v for k, v in result.peak_memory.items()},
    }
    if flops and ips and c.images:
        out["achieved_tflops"] = flops_spent(flops, c) / c.images * ips / 1e12
    return out


def selection_rule(floor: float) -> str:
    rule = "highest validation PSNR over the periodic evaluations (validation != test)"
    if floor > 0:
        rule += (f" among generators whose validation colourfulness is >= {floor:.2f} of the validation photos'"
                 " (the highest of all while none is)")
    return rule


def _write_history(run: RunDir, result: TrainResult) -> None:
    atomic_write_text(run.path / "history.csv", _csv(result.history))
    atomic_write_text(run.path / "validation.csv", _csv(result.val_history))


def _finish(run: RunDir, trainer: Trainer, result: TrainResult, data: PreparedData, metrics, device) -> dict:
    """Score the last and the best (by validation PSNR) generator on the test crops; write metrics,
    per-image scores, weights and the sample grid."""
    trainer._flops = count_flops_per_image(trainer)
    gen = trainer.eval_generator
    last_state = {k: v.detach().cpu().clone() for k, v in gen.state_dict().items()}
    last_scores, last_pred = evaluate_images(gen, data.test, metrics, device)
    refs = reference_scores(metrics, data.test)
    selected, best_step = "last", result.counters.step
    scores, pred, state = last_scores, last_pred, last_state
    if result.best is not None and result.best["step"] != result.counters.step:
        gen.load_state_dict(result.best["state"])
        best_scores, best_pred = evaluate_images(gen, data.test, metrics, device)
        gen.load_state_dict(last_state)
        selected, best_step = "best", result.best["step"]
        scores, pred, state = best_scores, best_pred, result.best["state"]
    else:
        best_scores = last_scores
    summary = {
        "selected": selected,
        "selection_rule": selection_rule(trainer.floor),
        "best_step": best_step,
        "best_meets_floor": None if result.best is None else bool(result.best.get("meets_floor", True)),
        "model": summarize(scores),
        "last": summarize(last_scores),
        "best": summarize(best_scores),
        "gray": summarize(refs["gray"]),
        "truth": summarize(refs["truth"]),
        "n_test_images": int(data.test.shape[0]),
        "adversary": adversary_summary(result.history),
        "metrics": {n: {"higher_is_better": m.higher_is_better, "unit": m.unit,
                        "reference_free": m.reference_free} for n, m in metrics.items()},
    }
    rows = []
    for i, key in enumerate(data.test_keys):
        row: dict[str, Any] = {"image": key}
        for name in metrics:
            row[f"model_{name}"] = float(scores[name][i])
            row[f"last_{name}"] = float(last_scores[name][i])
            row[f"gray_{name}"] = float(refs["gray"][name][i])
        for name, values in refs["truth"].items():
            row[f"truth_{name}"] = float(values[i])
        rows.append(row)
    atomic_write_text(run.path / "per_image.csv", _csv(rows))
    atomic_torch_save(run.path / "generator.pt", state)
    atomic_torch_save(run.path / "generator_last.pt", last_state)
    k = min(SAMPLE_COUNT, data.test.shape[0])
    columns = {"gray input": gray_uint8(data.test[:k]).numpy(), trainer.cfg.model: pred[:k].numpy(),
               "truth": data.test[:k].numpy()}
    save_png(grid(columns), run.path / "samples.png")
    # the same crops as plain arrays, so the report can put every model side by side (no pickle)
    buf = io.BytesIO()
    np.savez_compressed(buf, gray=columns["gray input"], pred=columns[trainer.cfg.model], truth=columns["truth"],
                        keys=np.array(data.test_keys[:k]))
    atomic_write_bytes(run.path / "samples.npz", buf.getvalue())
    atomic_write_json(run.path / "metrics.json", summary)
    return summary


def evaluate_run(path: Path, registry: Registry, dataset: str | None = None,
                 dataset_options: dict[str, Any] | None = None, image_size: int | None = None,
                 device: str = "auto", reporter: Reporter | None = None, cache_dir: Path | None = None) -> dict:
    """Re-score a trained run's generator on any dataset. By default the held-out test split of the one
    it was trained on; a dataset named here is scored whole: a dataset factory that declares
    ``evaluate_all`` gets ``evaluate_all=True`` (every usable photo is a test photo)."""
    from ganbench.tools.colorize import load_generator

    reporter = reporter or SilentReporter()
    run = open_run(path)
    record = run.record()
    if not (run.path / "generator.pt").exists():
        raise ResultsError(f"{path} has no generator.pt (status {record.get('status')}): nothing to evaluate")
    cfg = RunConfig(**record["config"])
    dev = resolve_device(device)
    options = dict(cfg.dataset_options)
    if dataset is not None:
        registry.get("dataset", dataset)
        options = _normalise_options(dataset_options or {})
        if registry.accepts("dataset", dataset, "evaluate_all"):
            _note_training_photos(cfg, dataset, options, reporter)
            options["evaluate_all"] = True
        cfg.dataset = dataset
    if image_size is not None:
        cfg.budget = {**cfg.budget, "image_size": image_size}
    check_shapes(registry, cfg.recipe, Budget.from_dict(cfg.budget), cfg.model)
    splits = _dataset_splits(registry, cfg.dataset, options)
    data = prepare_test(splits, cfg.image_size, cache_dir=cache_dir)  # skipped files are returned
    generator, _ = load_generator(registry, run=run.path, device=dev)
    metrics = {name: registry.create("metric", name) for name in cfg.metrics}
    scores, _ = evaluate_images(generator, data.crops, metrics, dev)
    refs = reference_scores(metrics, data.crops)
    skipped = [{"file": f, "reason": r} for f, r in [*splits.skipped, *data.skipped]]
    return {"run": str(run.path), "model": cfg.model, "dataset": cfg.dataset, "description": splits.description,
            "image_size": cfg.image_size, "n_photos": data.photos, "n_test_images": int(data.crops.shape[0]),
            "skipped": skipped,
            "scores": summarize(scores), "gray": summarize(refs["gray"]), "truth": summarize(refs["truth"])}


def _note_training_photos(trained: RunConfig, dataset: str, options: dict[str, Any], reporter: Reporter) -> None:
    """Scoring the whole folder a run trained on includes its training photos: say so."""
    scored = options.get("test_root") or options.get("data_root")
    if dataset == trained.dataset and scored is not None and scored == trained.dataset_options.get("data_root"):
        reporter.message(f"note: {scored} is the folder this run trained on: every photo in it is scored, its "
                         "training photos included (leave out --dataset to score only its held-out test split)")


__all__ = ["RunRequest", "RunOutcome", "plan_comparison", "run_comparison", "train_planned", "resume_run",
           "evaluate_run",
           "SilentReporter"]
