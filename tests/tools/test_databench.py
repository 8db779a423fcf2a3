"""``ganbench data bench`` and ``ganbench bench --with-data``: the input pipeline's rates per worker, and the
steps fed by it beside the in-memory steps."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ganbench.cli import cli
from ganbench.tools.databench import project


def test_data_bench_reports_rates_per_worker_and_the_projection():
    out = CliRunner().invoke(cli, ["data", "bench", "--image-size", "16,24", "--batch-size", "4", "--workers", "1",
                                   "--seconds", "0.2", "--json"])
    assert out.exit_code == 0, out.output
    res = json.loads(out.output)
    assert [(r["image_size"], r["workers"]) for r in res["rows"]] == [(16, 0), (16, 1), (24, 0), (24, 1)]
    assert all(r["images_per_s"] > 0 and r["photos"] == 5 for r in res["rows"])
    p = res["projection"]
    assert p["image_size"] == 24 and p["workers"] == 15 and p["images_per_s"] == pytest.approx(15 * p["per_worker"])
    bad = CliRunner().invoke(cli, ["data", "bench", "--workers", "two"])
    assert bad.exit_code == 2 and "comma-separated counts" in bad.output


def test_projection_arithmetic():
    p = project(200.0, 16, 2500.0)
    assert p["images_per_s"] == 3000.0 and p["meets_target"] and p["workers_needed"] == 13
    assert not project(100.0, 16, 2500.0)["meets_target"]


def test_bench_with_data_times_fed_steps_beside_the_in_memory_ones():
    out = CliRunner().invoke(cli, ["bench", "-m", "dcgan", "--budget", "smoke", "--image-size", "32", "--batch-size",
                                   "4", "--steps", "2", "--warmup", "1", "--device", "cpu", "--with-data",
                                   "--data-workers", "1", "--json"])
    assert out.exit_code == 0, out.output
    [row] = json.loads(out.output)
    assert row["data_workers"] == 1 and row["data_dataset"] == "embedded"
    assert row["e2e_images_per_s"] > 0 and 0 <= row["data_share"] <= 1
    assert row["serial_images_per_s"] == pytest.approx(1 / (1 / row["images_per_s"] + 1 / row["data_images_per_s"]))
