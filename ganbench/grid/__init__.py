"""Step 1, the plan, and the driver of every run: a comparison (models × seeds × budgets) planned into run
configs, each run executed (data → train → store → score) by an executor plugin, locally or on SLURM.

The names below are the seam executor plugins use (docs/plugins.md, "register_executors"); they stay importable
from ``ganbench.grid`` whatever module inside the package holds them.
"""

from ganbench.grid.execute import (
    Executor,
    GridPlan,
    grid_root,
    is_complete,
    run_label,
    run_member,
    write_manifest,
)
from ganbench.grid.runner import RunOutcome, train_planned
from ganbench.grid.status import grid_status
from ganbench.train.signals import StopFlag, StopRequested

__all__ = [
    "Executor", "GridPlan", "RunOutcome", "StopFlag", "StopRequested", "grid_root", "grid_status", "is_complete",
    "run_label", "run_member", "train_planned", "write_manifest",
]
