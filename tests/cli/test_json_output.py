"""Every ``--json`` the CLI prints is valid JSON: a non-finite number is null with its reason beside it."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ganbench.cli import cli


def _strict(text: str):
    return json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))


def test_status_evaluate_and_bench_json_write_non_finite_numbers_as_null(monkeypatch, tmp_path):
    import ganbench.grid.status
    import ganbench.tools.evaluate
    import ganbench.train.bench

    monkeypatch.setattr(ganbench.grid.status, "grid_status",
                        lambda results, registry: [{"model": "dcgan", "seed": 0, "state": "diverged",
                                                    "loss": float("nan"), "where": None}])
    monkeypatch.setattr(ganbench.tools.evaluate, "evaluate_run",
                        lambda *a, **k: {"model": "dcgan", "scores": {"psnr": float("inf")}, "gray": {"psnr": 20.0}})
    monkeypatch.setattr(ganbench.train.bench, "bench_model",
                        lambda registry, m, **k: {"model": m, "flops_share": float("nan"), "images_per_s": 12.5})
    runner = CliRunner()
    status = runner.invoke(cli, ["status", str(tmp_path), "--json"])
    assert status.exit_code == 0, status.output
    [row] = _strict(status.output)
    assert row["loss"] is None and "NaN" in row["loss_null_reason"] and row["state"] == "diverged"
    evaluated = runner.invoke(cli, ["evaluate", str(tmp_path), "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    scores = _strict(evaluated.output)["scores"]
    assert scores["psnr"] is None and "infinity" in scores["psnr_null_reason"]
    benched = runner.invoke(cli, ["bench", "--models", "dcgan", "--json"])
    assert benched.exit_code == 0, benched.output
    [row] = _strict(benched.output)
    assert row["flops_share"] is None and row["images_per_s"] == 12.5 and "flops_share_null_reason" in row
