"""The commands of the main flow: ``run`` (plan, train, score, report), ``report`` and ``status``."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ganbench.cli import cli, plugin_registry
from ganbench.cli.options import run_options
from ganbench.report.console import RichReporter, StdoutConsole, print_curves, print_summary, stderr
from ganbench.store.results import json_text


@cli.command()
@run_options  # every option declared in ganbench/core/options.py (also the keys of a config file's [run])
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Override a recipe option for every model, e.g. generator.depth=6, loss.clip=0.02.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="TOML file with [run] defaults, [set] overrides and [models.NAME] recipes.")
@click.option("--resume", type=click.Path(path_type=Path), default=None, help="Continue this run folder.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@click.option("--dry-run", is_flag=True, help="Print the grid (runs, budget, devices or jobs, projected time) and "
                                               "start nothing.")
def run(sets, config_path, resume, quiet, dry_run, **flags):
    """Train and score models under one budget (or one comparison per point of --scale), then print the
    comparison table."""
    from ganbench.core.config import load_config_file
    from ganbench.core.request import run_request
    from ganbench.grid.dry_run import dry_run as grid_dry_run
    from ganbench.grid.executors import make_executor, run_grid
    from ganbench.grid.in_process import resume_run
    from ganbench.grid.points import run_points, scale_requests
    from ganbench.train.distributed import init_from_env
    from ganbench.train.signals import StopFlag

    if flags["data_workers"] is not None:  # read by every trainer of this process and the grid workers it starts
        from ganbench.data.loader import set_data_workers

        set_data_workers(flags["data_workers"])
    if flags["data_store"] is not None:  # like --data-workers: for this process and the processes it starts
        from ganbench.data.store import STORE_ENV

        os.environ[STORE_ENV] = flags["data_store"]
    registry = plugin_registry()
    di = init_from_env(flags["device"] or "auto")  # under torchrun: join the process group (gloo on CPU, NCCL on CUDA)
    reporter = RichReporter(quiet or not di.is_main)
    stop = StopFlag()
    restore = stop.install()
    from ganbench.data.pipeline import default_cache_dir

    cache = flags["cache_dir"] or default_cache_dir()
    points = []
    try:
        if resume is not None:
            trackers = list(flags["trackers"] or ())
            for name in trackers:
                registry.get("tracker", name)
            outcome = resume_run(resume, registry, reporter, stop, cache_dir=cache, trackers=trackers)
            outcomes, results = [outcome], outcome.run_dir.parent.parent
        else:
            argv = click.get_current_context().meta.get("ganbench.argv", sys.argv[1:])
            request, choice = run_request(flags, load_config_file(config_path), sets, cache_dir=cache,
                                          command=" ".join(shlex.quote(a) for a in ["ganbench", *argv]))
            results = request.results
            ex = make_executor(registry, choice.executor, choice.executor_options)
            points = scale_requests(request, choice.scale, choice.budgets)
            if dry_run:
                for point in points:
                    for line in grid_dry_run(point, registry, ex):
                        click.echo(line)
                return
            outcomes = run_points(points, registry, reporter, stop,
                                  run=lambda point: run_grid(point, registry, ex, reporter, stop))
    finally:
        restore()
        if di.enabled:
            import gc

            import torch.distributed as tdist

            # Free the trainers' DistributedDataParallel wrappers (reference cycles keep them until a
            # collection) while the process group is alive: a wrapper freed after destroy_process_group, at
            # exit, hung about one 2-process gloo run in nine on 2 loaded cores (tests/ddp_loss_worker.py).
            gc.collect()
            tdist.destroy_process_group()
    if not di.is_main:
        return
    if outcomes and all(o.status in ("queued", "claimed") for o in outcomes):
        return  # submitted (--detach) or left to other workers: nothing finished here to report yet
    from ganbench.report.write import write_report

    comps, notes, out = write_report(results)
    print_summary(comps[:1])
    if resume is None and len(points) > 1:
        print_curves(comps, [o.run_dir for o in outcomes])
    stderr.print(f"report written to {out}/ (report.md, report.csv, report.json, index.html)")
    failed = [f"{o.model} seed {o.seed}: {o.status}" + (f" ({o.metrics['error']})" if (o.metrics or {}).get("error")
                                                       else "") for o in outcomes if o.status in ("diverged", "failed")]
    for line in failed:
        stderr.print(f"[red]{line}[/]", highlight=False, soft_wrap=True)
    if failed:
        sys.exit(6)

@cli.command()
@click.option("--results", type=click.Path(path_type=Path), default=Path("results"), show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Output folder (RESULTS/report).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@click.option("--open", "open_", is_flag=True, help="Open index.html in a browser.")
@click.option("--compare", nargs=2, type=click.Path(path_type=Path), default=None, metavar="DIR_A DIR_B",
              help="Put two result sets side by side with their differences.")
def report(results, out, as_json, open_, compare):
    """Comparison tables (with the gray baseline), plots and sample grids from a results folder."""
    from ganbench.report.compare import compare_columns, compare_results
    from ganbench.report.render import print_report
    from ganbench.report.write import write_report_document

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

    _, _, out_dir, document = write_report_document(results, out)
    if as_json:
        click.echo((out_dir / "report.json").read_text())
    else:
        print_report(document)
        stderr.print(f"written: {out_dir}/report.md, report.csv, report.json, index.html")
    if open_:
        click.launch(str(out_dir / "index.html"))

@cli.command()
@click.argument("results", type=click.Path(path_type=Path), default=Path("results"))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(results, as_json):
    """Where each run of the grids issued into RESULTS stands: queued, running (where), complete,
    diverged, failed (why) or interrupted (re-issue the grid to resume)."""
    from ganbench.grid.status import grid_status

    rows = grid_status(results, plugin_registry())
    if as_json:
        click.echo(json_text(rows))
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
