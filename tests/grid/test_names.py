"""The run chain's old names still work for code written against them (executor plugins import from
ganbench.grid)."""

from __future__ import annotations

import ganbench.grid as grid
from ganbench.grid import execute, runner, scale


def test_old_names_are_the_new_functions():
    assert grid.train_planned is grid.run_configs is runner.run_configs
    assert runner.execute_run is runner.run_one
    assert execute.execute_grid is execute.run_grid
    assert scale.run_scale is scale.run_points
    assert {"run_configs", "run_member", "train_planned"} <= set(grid.__all__)
