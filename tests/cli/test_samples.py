"""--samples (declared in ganbench/core/options.py): how many held-out photos a run's sample grid shows; how a
run is shown, not what it computes, so it is not part of the run key."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from ganbench.cli import cli


def test_samples_sets_the_grid_and_leaves_the_run_key(tmp_path):
    args = ["run", "--models", "l1", "--budget", "smoke,steps=2", "--device", "cpu", "--precision", "fp32", "-q",
            "--results", str(tmp_path)]
    out = CliRunner().invoke(cli, [*args, "--samples", "3"])
    assert out.exit_code == 0, out.output
    [run] = list((tmp_path / "runs").iterdir())
    with np.load(run / "samples.npz") as z:
        assert z["pred"].shape[0] == z["truth"].shape[0] == z["gray"].shape[0] == 3 == len(z["keys"])
    record = json.loads((run / "run.json").read_text())
    assert record["config"]["samples"] == 3
    assert (run / "samples.png").exists()
    # the same run asked with another grid size is the same run: skipped, not trained again
    again = CliRunner().invoke(cli, [*args, "--samples", "5"])
    assert again.exit_code == 0 and "already complete" in again.output
    assert list((tmp_path / "runs").iterdir()) == [run]


def test_samples_in_a_config_file_is_checked(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[run]\nmodels = ["l1"]\nsamples = 0\n')
    out = CliRunner().invoke(cli, ["run", "--config", str(config), "--results", str(tmp_path)])
    assert out.exit_code == 2 and out.output.strip() == "error: --samples must be >= 1, got 0"
