"""Step 1, the plan, and the driver of every run: a comparison (models × seeds × budgets) planned into run
configs, each run executed (data → train → store → score) by an executor plugin, locally or on SLURM.

The run chain has one verb, ``run``, and a noun for each level: :func:`~ganbench.grid.points.run_points` (every
point of ``--scale``/``--budget``) > :func:`~ganbench.grid.executors.run_grid` (one comparison, planned and
handed to an executor) > :func:`run_member` (one run in an executor's worker) > :func:`run_configs` (planned
runs in this process: claimed, skipped, resumed) > :func:`~ganbench.grid.in_process.run_one` (one run: train,
score, store). ``run_comparison`` is ``plan_comparison`` then ``run_configs``, in this process.

The names below are the seam executor plugins use (docs/plugins.md, "register_executors"); they stay importable
from ``ganbench.grid`` whatever module inside the package holds them.
"""

from ganbench.grid.executors import (
    Executor,
    GridPlan,
    grid_root,
    is_complete,
    run_label,
    run_member,
    write_manifest,
)
from ganbench.grid.in_process import RunOutcome, run_configs, train_planned
from ganbench.grid.status import grid_status
from ganbench.train.signals import StopFlag, StopRequested

__all__ = [
    "Executor", "GridPlan", "RunOutcome", "StopFlag", "StopRequested", "grid_root", "grid_status", "is_complete",
    "run_configs", "run_label", "run_member", "train_planned", "write_manifest",
]
