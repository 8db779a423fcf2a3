"""The ``ganbench`` command: a thin click layer over plain functions (runner, report, registry, bench)."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ganbench import __version__
from ganbench.core.errors import EXIT_CODES, ConfigError, GanbenchError

stderr = Console(stderr=True)


class GanbenchGroup(click.Group):
    """Turns user mistakes (GanbenchError) into one line and a documented exit code, never a traceback."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["ganbench.argv"] = list(args)  # the exact command, for provenance
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        from ganbench.train.trainer import StopRequested

        try:
            return super().invoke(ctx)
        except GanbenchError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except StopRequested as exc:
            click.echo(f"interrupted: {exc}. Rerun the same command (or --resume) to continue.", err=True)
            ctx.exit(130)
        except KeyboardInterrupt:
            click.echo("interrupted.", err=True)
            ctx.exit(130)
        except BrokenPipeError:  # `ganbench report | head`: the reader has all it wanted
            _discard_stdout()
            ctx.exit(0)


def _discard_stdout() -> None:
    """Point stdout at /dev/null so nothing flushed at exit meets the closed pipe again (see the Python docs'
    "Note on SIGPIPE")."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


class StdoutConsole(Console):
    """Tables and text on stdout. Outside a terminal (a pipe, a log, CI) rich would assume 80 columns and
    fold words; there each line is printed at its natural width instead (``COLUMNS`` still wins). A closed
    pipe ends the command quietly with status 0 (rich would exit 1)."""

    def __init__(self) -> None:
        super().__init__()
        if not self.is_terminal and not os.environ.get("COLUMNS"):
            self.width = NATURAL_WIDTH

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError


#: "Unlimited" width for output that is not a terminal: tables take their natural width, text no wrapping.
NATURAL_WIDTH = 10_000


class RichReporter:
    """A rich progress bar per model on stderr, and one-line messages."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.progress: Progress | None = None
        self.task = None
        self.console = stderr

    def start(self, label: str, total: int | None) -> None:
        if self.quiet:
            return
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("{task.fields[info]}"), console=self.console, transient=False,
        )
        self.progress.start()
        self.task = self.progress.add_task(label, total=total, info="")

    def advance(self, completed: int, info: str = "") -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=completed, info=info)

    def finish(self, status: str) -> None:
        if self.progress is not None:
            self.progress.update(self.task, info=f"[{'green' if status == 'complete' else 'red'}]{status}")
            self.progress.stop()
            self.progress = None

    def message(self, text: str) -> None:
        self.console.print(f"[yellow]{text}[/]", highlight=False, soft_wrap=True)

    # A grid (--jobs N, --executor slurm): one display, a row per running run, a line per finished run.
    def run_start(self, label: str, total: int | None) -> None:
        if self.quiet:
            return
        if self.progress is None:
            self.progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                TextColumn("{task.fields[info]}"), console=self.console, transient=True,
            )
            self.progress.start()
            self.rows: dict[str, Any] = {}
        self.rows[label] = self.progress.add_task(label, total=total, info="")

    def run_advance(self, label: str, completed: int, info: str = "") -> None:
        if self.progress is not None and label in self.rows:
            self.progress.update(self.rows[label], completed=completed, info=info)

    def run_finish(self, label: str, status: str, info: str = "") -> None:
        if self.progress is not None and label in self.rows:
            self.progress.remove_task(self.rows.pop(label))
        colour = "green" if status == "complete" else "red"
        self.console.print(f"[{colour}]{label}: {status}[/]{f' ({info})' if info else ''}", highlight=False,
                           soft_wrap=True)
        if self.progress is not None and not self.rows:
            self.progress.stop()
            self.progress = None


def _registry():
    from ganbench.core.registry import load_registry

    return load_registry()


def _split_list(value: str | None) -> list[str] | None:
    if value is None:
        return None
    items = [v.strip() for v in value.split(",")]
    if not all(items):
        raise ConfigError(f"malformed list '{value}': use comma-separated names without empty items")
    return items


@click.group(cls=GanbenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ganbench")
def cli() -> None:
    """Benchmark GAN recipes for automatic image colourization."""


cli.help = ("Benchmark GAN recipes for automatic image colourization.\n\n\b\nExit codes:\n"
            + "\n".join(f"  {k:>3}  {v}" for k, v in EXIT_CODES.items()))


def dataset_options(f):
    f = click.option("--dataset", default=None, help="Dataset plugin (default: embedded photos).")(f)
    f = click.option("--data-root", type=click.Path(path_type=Path), help="Data folder (folder, places365).")(f)
    f = click.option("--test-root", type=click.Path(path_type=Path), help="Separate test folder (folder).")(f)
    f = click.option("--limit", type=click.IntRange(min=1), help="Deterministic subset of N training images.")(f)
    f = click.option("--split", default=None, help="places365: train-standard | train-challenge | val.")(f)
    f = click.option("--small/--large", "small", default=None, help="places365: 256px or large images.")(f)
    return f


def _dataset_options(data_root, test_root, limit, split, small) -> dict[str, Any]:
    opts: dict[str, Any] = {"data_root": data_root, "test_root": test_root, "limit": limit, "split": split,
                            "variant": None if small is None else ("small" if small else "large")}
    return {k: v for k, v in opts.items() if v is not None}


def grid_options(f):
    """Where the runs of a grid execute (ganbench/grid/execute.py, the executor plugins)."""
    for opt in reversed([
        click.option("--executor", default=None, help="Where runs execute: local (default) or slurm, or a plugin's."),
        click.option("--jobs", "-j", type=int, default=None,
                     help="local: N runs at once, one process each (cuda:0..N-1, or the CPU cores divided)."),
        click.option("--slurm-partition", default=None, help="slurm: partition."),
        click.option("--slurm-gpus-per-job", type=int, default=None, help="slurm: GPUs per run (default 0)."),
        click.option("--slurm-time", default=None,
                     help="slurm: time limit per job, e.g. 4h (default 1h; a run that hits it is requeued and "
                          "resumes from its checkpoint)."),
        click.option("--slurm-account", default=None, help="slurm: account to charge."),
        click.option("--slurm-option", "slurm_options", multiple=True, metavar="KEY=VALUE",
                     help="slurm: any other sbatch option, e.g. qos=high, constraint=h100 (repeatable)."),
        click.option("--detach", is_flag=True, default=None,
                     help="slurm: return once submitted; follow with `ganbench status RESULTS`."),
        click.option("--dry-run", is_flag=True, help="Print the grid (runs, budget, devices or jobs, projected "
                                                      "time) and start nothing."),
    ]):
        f = opt(f)
    return f


def _executor_options(pick, jobs, slurm_partition, slurm_gpus_per_job, slurm_time, slurm_account, slurm_options,
                      detach) -> dict[str, Any]:
    """Only the options the user set (on the command line or in [run]): an executor rejects the others'."""
    opts = {"jobs": pick(jobs, "jobs"), "partition": pick(slurm_partition, "slurm_partition"),
            "gpus_per_job": pick(slurm_gpus_per_job, "slurm_gpus_per_job"), "time": pick(slurm_time, "slurm_time"),
            "account": pick(slurm_account, "slurm_account"),
            "options": list(slurm_options) or pick(None, "slurm_options"), "detach": pick(detach, "detach")}
    return {k: v for k, v in opts.items() if v is not None}


@cli.command()
@click.option("--models", "-m", default=None, help="Comma-separated model names, e.g. dcgan,wgan,wgan-gp.")
@dataset_options
@click.option("--budget", "-b", "budget", multiple=True,
              help="Named budget (smoke, cpu, seed, gpu) and/or steps=N, images=N, epochs=N, time=10m; given "
                   "several times: one comparison per budget, and curves across them in the report.")
@click.option("--scale", "scale", multiple=True, metavar="KEY=V1,V2,...",
              help="One comparison per value, curves across them in the report: a budget axis "
                   "(images=1200,2400,4800,9600; also steps, epochs, time) and/or a data axis (limit=9,18,36).")
@click.option("--seeds", default=None, help="A count (3 = seeds 0,1,2) or a list (0,1,2).")
@click.option("--device", default=None, help="cpu, cuda, cuda:N or auto (default).")
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16"]), default=None,
              help="Autocast precision (default: bf16 on CUDA and on CPUs with native bf16, else fp32).")
@click.option("--compile/--no-compile", "compile_", default=None, help="torch.compile G and D (default off).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Override a recipe option for every model, e.g. generator.depth=6, loss.clip=0.02.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="TOML file with [run] defaults, [set] overrides and [models.NAME] recipes.")
@click.option("--results", type=click.Path(path_type=Path), default=None, help="Results folder (./results).")
@click.option("--image-size", type=int, default=None, help="Override the budget's image size.")
@click.option("--batch-size", type=int, default=None, help="Override the budget's batch size.")
@click.option("--eval-every", type=int, default=None, help="Validate every N generator steps.")
@click.option("--checkpoint-every", type=int, default=None, help="Checkpoint every N steps (default 100).")
@click.option("--metrics", default=None, help="Comma-separated metrics (default psnr,mae,ssim,colorfulness).")
@click.option("--ema", type=float, default=None, help="EMA decay of generator weights (0 = off).")
@click.option("--colorfulness-floor", type=float, default=None,
              help="Checkpoint selection: validation colourfulness must reach this fraction of the photos' "
                   "own (default 1/3; 0 = best validation PSNR alone).")
@click.option("--resume", type=click.Path(path_type=Path), default=None, help="Continue this run folder.")
@click.option("--rerun", is_flag=True,
              help="Train afresh even where a complete run with the same settings and plugins exists.")
@click.option("--cache-dir", type=click.Path(path_type=Path), default=None,
              help="Decoded-image cache (default: $GANBENCH_CACHE or ~/.cache/ganbench).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@grid_options
def run(models, dataset, data_root, test_root, limit, split, small, budget, scale, seeds, device, precision,
        compile_, sets, config_path, results, image_size, batch_size, eval_every, checkpoint_every, metrics,
        ema, colorfulness_floor, resume, rerun, cache_dir, quiet, executor, jobs, slurm_partition, slurm_gpus_per_job,
        slurm_time, slurm_account, slurm_options, detach, dry_run):
    """Train and score models under one budget (or one comparison per point of --scale), then print the
    comparison table."""
    from ganbench.core.config import load_config_file, parse_seeds, parse_sets
    from ganbench.grid.execute import dry_run as grid_dry_run
    from ganbench.grid.execute import execute_grid, make_executor
    from ganbench.grid.runner import RunRequest, resume_run
    from ganbench.grid.scale import run_scale, scale_requests
    from ganbench.train.distributed import init_from_env
    from ganbench.train.trainer import StopFlag

    registry = _registry()
    di = init_from_env(device or "auto")  # under torchrun: join the process group (gloo on CPU, NCCL on CUDA)
    reporter = RichReporter(quiet or not di.is_main)
    stop = StopFlag()
    restore = stop.install()
    cache = cache_dir or default_cache_dir()
    points = []
    try:
        if resume is not None:
            outcome = resume_run(resume, registry, reporter, stop, cache_dir=cache)
            outcomes, results = [outcome], outcome.run_dir.parent.parent
        else:
            config = load_config_file(config_path)
            rc = config.run
            pick = lambda cli_value, key, default=None: cli_value if cli_value is not None else rc.get(key, default)  # noqa: E731
            model_list = _split_list(models) if models else rc.get("models")
            if isinstance(model_list, str):
                model_list = _split_list(model_list)
            if not model_list:
                raise ConfigError("no models given: use --models dcgan,wgan,wgan-gp")
            ds_opts = {k: rc[k] for k in ("data_root", "test_root", "limit", "split", "variant") if k in rc}
            ds_opts.update(_dataset_options(data_root, test_root, limit, split, small))
            metric_list = _split_list(metrics) if metrics else rc.get("metrics")
            results = Path(pick(results, "results", "results"))
            request = RunRequest(
                models=model_list, dataset=pick(dataset, "dataset", "embedded"), dataset_options=ds_opts,
                budget=None, seeds=parse_seeds(pick(seeds, "seeds")),
                device=pick(device, "device", "auto"), precision=pick(precision, "precision"),
                compile=bool(pick(compile_, "compile", False)),
                sets={**config.sets, **parse_sets(sets)}, config=config, results=results,
                eval_every=pick(eval_every, "eval_every"), checkpoint_every=int(pick(checkpoint_every,
                                                                                     "checkpoint_every", 100)),
                metrics=metric_list, ema=float(pick(ema, "ema", 0.0)),
                colorfulness_floor=float(pick(colorfulness_floor, "colorfulness_floor", 1 / 3)),
                image_size=pick(image_size, "image_size"),
                batch_size=pick(batch_size, "batch_size"), cache_dir=cache, rerun=rerun,
                command=" ".join(shlex.quote(a) for a in ["ganbench", *click.get_current_context().meta.get(
                    "ganbench.argv", sys.argv[1:])]),
            )
            ex = make_executor(registry, pick(executor, "executor", "local"),
                               _executor_options(pick, jobs, slurm_partition, slurm_gpus_per_job, slurm_time,
                                                 slurm_account, slurm_options, detach))
            points = scale_requests(request, list(scale) or _as_list(rc.get("scale")),
                                    list(budget) or _as_list(rc.get("budget")))
            if dry_run:
                for point in points:
                    for line in grid_dry_run(point, registry, ex):
                        click.echo(line)
                return
            outcomes = run_scale(points, registry, reporter, stop,
                                 run=lambda point: execute_grid(point, registry, ex, reporter, stop))
    finally:
        restore()
        if di.enabled:
            import torch.distributed as tdist

            tdist.destroy_process_group()
    if not di.is_main:
        return
    if outcomes and all(o.status in ("queued", "claimed") for o in outcomes):
        return  # submitted (--detach) or left to other workers: nothing finished here to report yet
    from ganbench.report.tables import write_report

    comps, notes, out = write_report(results)
    _print_tables(comps[:1], notes=[])
    if resume is None and len(points) > 1:
        _print_curves(comps, [o.run_dir for o in outcomes])
    stderr.print(f"report written to {out}/ (report.md, report.csv, report.json, index.html)")
    failed = [f"{o.model} seed {o.seed}: {o.status}" + (f" ({o.metrics['error']})" if (o.metrics or {}).get("error")
                                                       else "") for o in outcomes if o.status in ("diverged", "failed")]
    for line in failed:
        stderr.print(f"[red]{line}[/]", highlight=False, soft_wrap=True)
    if failed:
        sys.exit(6)


def _as_list(value: Any) -> list[str]:
    """A config value that may be one string or a list of them ([run] budget, [run] scale)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise ConfigError(f"malformed config value {value!r}: expected a string or a list of strings")


def _print_curves(comps, run_dirs=None) -> None:
    """The sentences of every curve, or of those the runs in ``run_dirs`` belong to."""
    from ganbench.report.curves import build_curves, curve_sentences

    console = StdoutConsole()
    touched = None if run_dirs is None else {Path(d).resolve() for d in run_dirs}
    for curve in build_curves(comps):
        if touched is None or any(r.path.resolve() in touched for comp in curve.points for r in comp.runs):
            console.print(f"[bold]{curve.title}[/]", highlight=False)
            for line in curve_sentences(curve):
                console.print(f"  {line}", highlight=False)


def default_cache_dir() -> Path:
    env = os.environ.get("GANBENCH_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ganbench"


def _print_tables(comps, notes) -> None:
    from ganbench.report.tables import console_table, selection_notes, significance_lines

    console = StdoutConsole()
    for comp in comps:
        df = console_table(comp)
        table = Table(title=comp.title, title_justify="left")
        for col in df.columns:
            left = col in ("model", "status") or col.startswith("vs gray")
            table.add_column(col, justify="left" if left else "right", overflow="fold")
        for _, row in df.iterrows():
            style = "dim" if row["model"] in ("gray", "ground truth") else None
            table.add_row(*[str(v) for v in row.values], style=style)
        console.print(table)
        for line in selection_notes(comp) + comp.excluded + comp.problems + significance_lines(comp):
            console.print(f"  {line}", highlight=False)
    for n in notes:
        console.print(f"[yellow]note:[/] {n}", highlight=False)


@cli.command()
@click.option("--results", type=click.Path(path_type=Path), default=Path("results"), show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Output folder (RESULTS/report).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@click.option("--open", "open_", is_flag=True, help="Open index.html in a browser.")
@click.option("--compare", nargs=2, type=click.Path(path_type=Path), default=None, metavar="DIR_A DIR_B",
              help="Put two result sets side by side with their differences.")
def report(results, out, as_json, open_, compare):
    """Comparison tables (with the gray baseline), plots and sample grids from a results folder."""
    from ganbench.report.tables import compare_columns, compare_results, write_report

    if compare:
        import pandas as pd

        out_dir = out or Path(compare[1]) / "report"
        joined = compare_results(compare[0], compare[1], out_dir)
        if as_json:
            click.echo(joined.to_json(orient="records", indent=2))
        else:
            table = Table(title=f"A = {compare[0]}  vs  B = {compare[1]}")
            cols = compare_columns(joined)
            for c in cols:
                table.add_column(c, justify="left" if c == "model" else "right")
            for _, row in joined.iterrows():
                table.add_row(*[str(row[c]) if c == "model" else ("—" if pd.isna(row[c]) else f"{row[c]:.3f}")
                                for c in cols])
            StdoutConsole().print(table)
            stderr.print(f"written: {out_dir}/compare.md, compare.csv")
        return

    comps, notes, out_dir = write_report(results, out)
    if as_json:
        click.echo((out_dir / "report.json").read_text())
    else:
        _print_tables(comps, notes)
        _print_curves(comps)
        stderr.print(f"written: {out_dir}/report.md, report.csv, report.json, index.html")
    if open_:
        click.launch(str(out_dir / "index.html"))


@cli.command()
@click.argument("results", type=click.Path(path_type=Path), default=Path("results"))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(results, as_json):
    """Where each run of the grids issued into RESULTS stands: queued, running (where), complete,
    diverged, failed (why) or interrupted (re-issue the grid to resume)."""
    from ganbench.grid.execute import grid_status

    rows = grid_status(results, _registry())
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    counts = {s: sum(r["state"] == s for r in rows) for s in dict.fromkeys(r["state"] for r in rows)}
    table = Table(title=f"{results}: " + ", ".join(f"{n} {s}" for s, n in counts.items()), title_justify="left")
    for col in ("model", "seed", "state", "where / job", "detail", "run folder"):
        table.add_column(col, overflow="fold")
    colours = {"complete": "green", "running": "cyan", "queued": "blue", "diverged": "red", "failed": "red"}
    for r in rows:
        where = r["where"] or (f"job {r['job']}" if r.get("job") else "")
        table.add_row(str(r["model"]), str(r["seed"]), f"[{colours.get(r['state'], 'yellow')}]{r['state']}[/]", where,
                      r["reason"], Path(r["run_dir"]).name if r["run_dir"] else "")
    Console().print(table)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins(as_json):
    """List loaded plugins, their versions and what each registers (with its description), and check that
    every registered model's recipe names a generator, critic and loss that is loaded (exit 4 if not)."""
    from ganbench.core.config import check_models
    from ganbench.core.errors import PluginError

    registry = _registry()
    infos = [{"name": p.name, "version": p.version, "distribution": p.distribution, "registers": p.registers,
              "descriptions": {kind: {n: registry.get(kind, n).meta.get("description", "") for n in names}
                               for kind, names in p.registers.items()}}
             for p in registry.plugins.values()]
    problems = check_models(registry)
    if as_json:
        click.echo(json.dumps(infos, indent=2))
    else:
        table = Table(title="ganbench plugins")
        for col in ("plugin", "distribution", "version", "registers"):
            table.add_column(col)
        for p in infos:
            regs = "\n".join(f"{kind}: {n}" + (f" — {d}" if (d := p["descriptions"][kind][n]) else "")
                              for kind, names in p["registers"].items() for n in names) or "(nothing)"
            table.add_row(p["name"], p["distribution"], p["version"], regs)
        StdoutConsole().print(table)
    if problems:
        raise PluginError(f"{len(problems)} recipe(s) cannot run: " + "; ".join(problems))


@cli.command()
@click.option("--json", "as_json", is_flag=True)
def budgets(as_json):
    """The named training budgets."""
    from ganbench.core.budgets import BUDGETS, describe

    if as_json:
        click.echo(json.dumps([b.to_dict() for b in BUDGETS.values()], indent=2))
        return
    table = Table(title="budgets (same for every model of a comparison)")
    for col in ("name", "image size", "batch", "length", "network hints", "eval every", "what for"):
        table.add_column(col)
    for b in BUDGETS.values():
        net = ", ".join(f"{n[0].upper()}: " + " ".join(f"{k} {v}" for k, v in h.items()) for n, h in b.hints.items())
        table.add_row(b.name, str(b.image_size), str(b.batch_size), describe(b), net, str(b.eval_every),
                      b.description)
    StdoutConsole().print(table)


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@dataset_options
@click.option("--image-size", type=int, default=None)
@click.option("--device", default="auto")
@click.option("--json", "as_json", is_flag=True)
def evaluate(run_dir, dataset, data_root, test_root, limit, split, small, image_size, device, as_json):
    """Re-score a trained run: its own test split, or every usable photo of a dataset you name
    (--dataset folder --data-root DIR); the model's and the gray baseline's metrics."""
    from ganbench.grid.runner import evaluate_run

    opts = _dataset_options(data_root, test_root, limit, split, small)
    if opts and not dataset:
        raise ConfigError("--data-root, --test-root, --limit, --split and --small/--large describe the dataset "
                          "named with --dataset (e.g. --dataset folder --data-root DIR); without --dataset the "
                          "run's own test split is scored")
    result = evaluate_run(run_dir, _registry(), dataset, opts if dataset else None, image_size, device,
                          RichReporter(), cache_dir=default_cache_dir())
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    table = Table(title=f"{result['model']} on {result['description']} ({result['n_test_images']} crops)")
    table.add_column("row")
    names = list(result["scores"])
    for n in names:
        table.add_column(n, justify="right")
    table.add_row(result["model"], *[f"{result['scores'][n]:.3f}" for n in names])
    table.add_row("gray", *[f"{result['gray'][n]:.3f}" for n in names])
    StdoutConsole().print(table)
    _print_scored(result)


def _print_scored(result: dict[str, Any]) -> None:
    """How many photos ``evaluate`` scored, and each file it skipped with the reason."""
    skipped = result["skipped"]
    stderr.print(f"scored {result['n_photos']} photo(s) ({result['n_test_images']} crops), skipped {len(skipped)} "
                 f"file(s)", highlight=False, soft_wrap=True)
    for item in skipped:
        stderr.print(f"  skipped {item['file']}: {item['reason']}", highlight=False, soft_wrap=True)


@cli.command()
@click.option("--models", "-m", default="dcgan,wgan,wgan-gp", show_default=True)
@click.option("--image-size", type=int, default=64, show_default=True)
@click.option("--batch-size", type=int, default=16, show_default=True)
@click.option("--steps", type=click.IntRange(min=1), default=10, show_default=True, help="Timed steps.")
@click.option("--warmup", type=click.IntRange(min=0), default=3, show_default=True)
@click.option("--device", default="auto")
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16"]), default=None)
@click.option("--compile/--no-compile", "compile_", default=False)
@click.option("--channels-last/--no-channels-last", "channels_last", default=None,
              help="NHWC activations (default: on CUDA, off on the CPU).")
@click.option("--budget", default="cpu", help="Budget whose network sizes to use (cpu, seed, gpu, ...).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE")
@click.option("--json", "as_json", is_flag=True)
def bench(models, image_size, batch_size, steps, warmup, device, precision, compile_, channels_last, budget, sets,
          as_json):
    """Training throughput per recipe with batches already in memory: images/s, step time, FLOPs per image,
    achieved FLOP/s as a share of the device's bf16 dense peak (a GPU's datasheet value; on a CPU its bf16
    matrix product measured in the same run), the data pipeline's own images/s, peak memory."""
    from ganbench.core.config import parse_sets
    from ganbench.tools.bench import bench_model

    registry = _registry()
    if batch_size < 1:
        raise ConfigError(f"batch size must be >= 1, got {batch_size}")
    overrides = parse_sets(sets)
    rows = [bench_model(registry, m, image_size=image_size, batch_size=batch_size, steps=steps, warmup=warmup,
                        device=device, precision=precision, compile=compile_, sets=overrides, budget=budget,
                        channels_last=channels_last)
            for m in _split_list(models)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"training step, {image_size}px, batch {batch_size}, {rows[0]['device']} "
                        f"({rows[0]['precision']}{', compiled' if compile_ else ''})")
    for col in ("model", "images/s", "step ms", "G steps/s", "GFLOP/image", "TFLOP/s", "% of bf16 peak",
                "data images/s", "peak MB"):
        table.add_column(col, justify="right")
    for r in rows:
        peak = r.get("peak_cuda_mb") or r["peak_cpu_rss_mb"]
        share = r.get("achieved_share_of_peak")
        table.add_row(r["model"], f"{r['images_per_s']:.1f}", f"{r['step_ms']:.1f}",
                      f"{r['generator_steps_per_s']:.2f}",
                      f"{(r['flops_per_image'] or 0) / 1e9:.2f}", f"{r.get('achieved_tflops') or 0:.3f}",
                      "—" if share is None else f"{100 * share:.1f}", f"{r.get('data_images_per_s') or 0:.0f}",
                      f"{peak:.0f}")
    peak_note = rows[0].get("peak_bf16_tflops")
    if peak_note:
        table.caption = f"bf16 dense peak {peak_note:.2f} TFLOP/s ({rows[0].get('peak_source')})"
    StdoutConsole().print(table)


@cli.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--run", "run_dir", type=click.Path(path_type=Path), default=None, help="A trained run folder.")
@click.option("--checkpoint", type=click.Path(path_type=Path), default=None,
              help="A generator .pt inside a run folder (e.g. generator_last.pt).")
@click.option("-o", "--out", "out_dir", type=click.Path(path_type=Path), required=True)
@click.option("--format", "ext", default=None, help="Output extension (.png, .jpg); default: the input's.")
@click.option("--compare", is_flag=True, help="Write input | output side by side.")
@click.option("--device", default="auto")
@click.option("--batch-size", type=int, default=8, show_default=True, help="Photos per generator batch.")
@click.option("--quiet", "-q", is_flag=True)
def colorize(inputs, run_dir, checkpoint, out_dir, ext, compare, device, batch_size, quiet):
    """Colourize image files and folders with a trained generator, at full resolution."""
    from ganbench.tools.colorize import colorize_files, iter_inputs, load_generator
    from ganbench.train.precision import resolve_device

    dev = resolve_device(device)
    generator, cfg = load_generator(_registry(), run_dir, checkpoint, dev)
    files, _ = iter_inputs(inputs)
    progress = Progress(TextColumn("colorize"), BarColumn(), MofNCompleteColumn(), console=stderr,
                        disable=quiet)
    with progress:
        task = progress.add_task("colorize", total=len(files))
        result = colorize_files(generator, cfg, inputs, out_dir, dev, ext=ext, compare=compare,
                                on_file=lambda p: progress.advance(task), batch_size=batch_size)
    for path, reason in result.failed:
        click.echo(f"warning: skipped {path}: {reason}", err=True)
    click.echo(f"{len(result.written)} image(s) written to {out_dir}" +
               (f", {len(result.failed)} failed" if result.failed else ""), err=True)
    if result.failed:
        sys.exit(3)


@cli.group()
def data() -> None:
    """Inspect datasets."""


@data.command("info")
@dataset_options
@click.option("--image-size", type=int, default=64, show_default=True)
@click.option("--cache-dir", type=click.Path(path_type=Path), default=None)
@click.option("--json", "as_json", is_flag=True)
def data_info(dataset, data_root, test_root, limit, split, small, image_size, cache_dir, as_json):
    """Counts, skipped files with reasons, image sizes, and decode / cached-read throughput."""
    from ganbench.tools.datainfo import dataset_info

    info = dataset_info(_registry(), dataset or "embedded", _dataset_options(data_root, test_root, limit, split,
                                                                             small),
                        image_size, cache_dir or default_cache_dir())
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    console = StdoutConsole()
    console.print(f"[bold]{info['description']}[/]")
    for split_name, n in info["counts"].items():
        console.print(f"  {split_name}: {n} images")
    s = info["sizes"]
    if s:
        console.print(f"  original sizes: short side {s['short_min']}–{s['short_max']} px "
                      f"(median {s['short_median']}), long side up to {s['long_max']} px")
    console.print(f"  decode + resize: {info['decode_images_per_s']:.1f} images/s (cold); "
                  f"cached reads: {info['cached_images_per_s']:.1f} images/s")
    if info["skipped"]:
        console.print(f"  skipped {len(info['skipped'])}:")
        for item in info["skipped"]:
            console.print(f"    {item['file']}: {item['reason']}", highlight=False)


def main() -> None:
    cli(prog_name="ganbench")


if __name__ == "__main__":  # pragma: no cover
    main()
