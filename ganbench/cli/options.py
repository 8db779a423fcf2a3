"""Options shared by several commands: the dataset flags and where a grid's runs execute."""

from __future__ import annotations

from pathlib import Path

import click


def dataset_options(f):
    f = click.option("--dataset", default=None, help="Dataset plugin (default: embedded photos).")(f)
    f = click.option("--data-root", type=click.Path(path_type=Path), help="Data folder (folder, places365).")(f)
    f = click.option("--test-root", type=click.Path(path_type=Path), help="Separate test folder (folder).")(f)
    f = click.option("--limit", type=click.IntRange(min=1), help="Deterministic subset of N training images.")(f)
    f = click.option("--split", default=None, help="places365: train-standard | train-challenge | val.")(f)
    f = click.option("--small/--large", "small", default=None, help="places365: 256px or large images.")(f)
    f = click.option("--file-list", type=click.Path(path_type=Path), default=None,
                     help="Only the photos this file names, one per line (a published split), on any dataset.")(f)
    return f

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
