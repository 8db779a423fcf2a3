"""The run chain's old names still work for code written against them (executor plugins import from
ganbench.grid); the modules are named for what they hold."""

from __future__ import annotations

import ganbench.grid as grid
from ganbench.grid import executors, in_process, points


def test_old_names_are_the_new_functions():
    assert grid.train_planned is grid.run_configs is in_process.run_configs
    assert in_process.execute_run is in_process.run_one
    assert executors.execute_grid is executors.run_grid
    assert points.run_scale is points.run_points
    assert {"run_configs", "run_member", "train_planned"} <= set(grid.__all__)

