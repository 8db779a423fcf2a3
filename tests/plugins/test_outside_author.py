"""The package an outside author wrote from docs/plugins.md alone (plugins/examples/ganbench-outside-author): a
feature-matching loss, R1 on top of a built-in loss by name, a spectral-norm critic with features and a ResNet
generator, run beside dcgan as a user runs them, tested with ganbench.testing."""

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ganbench.cli import cli
from ganbench.testing import plugin, train_tiny

PACKAGE = Path(__file__).resolve().parents[2] / "plugins" / "examples" / "ganbench-outside-author"


@pytest.fixture
def outside():
    sys.path.insert(0, str(PACKAGE))
    try:
        import ganbench_outside_author

        yield ganbench_outside_author
    finally:
        sys.path.remove(str(PACKAGE))
        sys.modules.pop("ganbench_outside_author", None)


def test_its_recipes_run_beside_dcgan_at_the_smoke_budget(outside, tmp_path):
    with plugin(outside):
        out = CliRunner().invoke(cli, ["run", "--models", "dcgan,out-fm,out-r1", "--budget", "smoke",
                                       "--results", str(tmp_path), "-q"])
    assert out.exit_code == 0, out.output
    runs = {json.loads((r / "run.json").read_text())["config"]["model"]: r for r in (tmp_path / "runs").iterdir()}
    assert set(runs) == {"dcgan", "out-fm", "out-r1"}
    for model in ("out-fm", "out-r1"):
        record = json.loads((runs[model] / "run.json").read_text())
        assert record["status"] == "complete"
        assert record["config"]["recipe"]["generator"] == "out-resnet"
    r1 = json.loads((runs["out-r1"] / "run.json").read_text())["config"]["recipe"]
    assert r1["loss"] == "hinge" and r1["regularizers"] == [{"name": "r1", "gamma": 1.0}]
    history = (runs["out-r1"] / "history.csv").read_text().splitlines()
    d_reg = history[0].split(",").index("d_reg")
    assert all(float(row.split(",")[d_reg]) > 0 for row in history[1:])  # R1 on every critic step


def test_its_parts_train_with_the_testing_helpers(outside):
    with plugin(outside) as reg:
        for model in ("out-fm", "out-r1"):
            result = train_tiny(reg, model=model, steps=2)
            assert result.finite and result.generator_changed and result.critic_changed, model
        # its feature-matching loss on the built-in PatchGAN, which declares its features on request
        result = train_tiny(reg, model="dcgan", loss="out-fm-hinge", sets={"critic.features": True}, steps=1)
        assert result.finite
