"""Plugin authors: the hook reference is complete, the tutorial is the example package, and the example
package installs (into a folder of its own, never into the environment running the suite), lists, runs and goes
away with that folder."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ganbench.cli import cli
from ganbench.core import hookspecs
from ganbench.core.hookspecs import hookimpl
from ganbench.core.registry import HOOK_FOR_KIND
from ganbench.testing import plugin, train_tiny

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "plugins.md"
EXAMPLE = ROOT / "plugins" / "examples" / "ganbench-extra-losses"


def _hooks():
    return sorted(n for n in dir(hookspecs) if n.startswith("register_"))


def test_every_hook_has_a_heading_with_its_signature():
    text = DOC.read_text()
    for hook in _hooks():
        assert f"\n### {hook}\n" in text, hook
        assert f"def {hook}(register)" in text, hook
    assert set(_hooks()) == set(HOOK_FOR_KIND.values())


def test_tutorial_code_is_the_example_package_code():
    text = DOC.read_text()
    blocks = re.findall(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 2
    for rel, body in blocks:
        assert (ROOT / rel).read_text() == body, f"docs/plugins.md drifted from {rel}"


class EveryHook:
    """One plugin that exercises every hook, each through a real run or call."""

    @hookimpl
    def register_generators(self, register):
        from ganbench_plugins.unet import UNet

        # a factory registered with accepts=("hints",) gets the budget's size hints (smoke: depth 5, width 8)
        register("test-unet", lambda hints=None, **o: UNet(depth=hints.depth, base_channels=hints.width, **o),
                 accepts=("hints",))

    @hookimpl
    def register_critics(self, register):
        from ganbench_plugins.patchgan import PatchGAN

        register("test-critic", lambda **o: PatchGAN(**o))

    @hookimpl
    def register_losses(self, register):
        from ganbench_plugins.losses import BCELoss

        register("test-bce", BCELoss)

    @hookimpl
    def register_regularizers(self, register):
        from ganbench_plugins.regularizers import R1

        register("test-r1", R1)

    @hookimpl
    def register_models(self, register):
        from ganbench_plugins.recipes import dcgan

        def recipe():
            r = dcgan()
            r.generator, r.critic, r.loss = "test-unet", "test-critic", "test-bce"
            r.critic_options = {"norm": "layer"}  # a per-image penalty needs a per-sample critic
            r.regularizers = [{"name": "test-r1", "gamma": 1.0}]
            return r

        register("test-model", recipe)

    @hookimpl
    def register_datasets(self, register):
        from ganbench_plugins.datasets import embedded

        register("test-data", embedded)

    @hookimpl
    def register_metrics(self, register):
        from ganbench_plugins.metrics import MAE

        class Chroma(MAE):
            name = "test-metric"

        register("test-metric", Chroma)

    @hookimpl
    def register_executors(self, register):
        from ganbench_plugins.executors import LocalExecutor

        class Here(LocalExecutor):
            name = "test-executor"

        register("test-executor", Here)

    @hookimpl
    def register_trackers(self, register):
        from ganbench.api import Tracker

        class Marker(Tracker):
            def __init__(self, run_dir, **context):
                self.path = run_dir / "tracked.txt"

            def finish(self, status):
                self.path.write_text(status)

        register("test-tracker", Marker)


def test_every_hook_is_exercised_by_a_run(tmp_path):
    with plugin(EveryHook(), name="every-hook") as reg:
        assert all(any(n.startswith("test-") for n in reg.names(kind)) for kind in reg.entries)
        out = CliRunner().invoke(cli, ["run", "--models", "test-model", "--dataset", "test-data", "--metrics",
                                       "psnr,mae,test-metric", "--budget", "smoke", "--results", str(tmp_path), "-q",
                                       "--executor", "test-executor", "--tracker", "test-tracker"])
    assert out.exit_code == 0, out.output
    [run] = list((tmp_path / "runs").iterdir())
    assert (run / "tracked.txt").read_text() == "complete"
    rec = json.loads((run / "run.json").read_text())
    assert rec["config"]["recipe"]["generator"] == "test-unet" and rec["config"]["dataset"] == "test-data"
    history = (run / "history.csv").read_text().splitlines()
    d_reg = history[0].split(",").index("d_reg")
    assert all(float(row.split(",")[d_reg]) > 0 for row in history[1:])  # the regularizer ran in every step
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["model"]["test-metric"] == pytest.approx(metrics["model"]["mae"])


def test_example_losses_train_with_the_testing_helpers():
    sys.path.insert(0, str(EXAMPLE))
    try:
        import ganbench_extra_losses as extra

        with plugin(extra) as reg:
            for loss in ("ex-hinge", "ex-least-squares"):
                result = train_tiny(reg, loss=loss)
                assert result.finite and result.generator_changed and result.critic_changed
    finally:
        sys.path.remove(str(EXAMPLE))
        sys.modules.pop("ganbench_extra_losses", None)


def test_config_file_recipe_without_python(tmp_path):
    sys.path.insert(0, str(EXAMPLE))
    try:
        import ganbench_extra_losses as extra

        cfg = tmp_path / "my.toml"
        cfg.write_text('[models.my-hinge]\nbase = "wgan-gp"\nloss = "ex-hinge"\nn_critic = 1\n'
                       'critic_optimizer = { name = "adam", lr = 2e-4, betas = [0.0, 0.9] }\n')
        with plugin(extra):
            out = CliRunner().invoke(cli, ["run", "--models", "dcgan,my-hinge", "--config", str(cfg), "--budget",
                                           "smoke", "--results", str(tmp_path / "r"), "-q"])
        assert out.exit_code == 0, out.output
        run = next((tmp_path / "r" / "runs").glob("*-my-hinge-*"))
        recipe = json.loads((run / "run.json").read_text())["config"]["recipe"]
        assert recipe["loss"] == "ex-hinge" and recipe["loss_options"] == {} and recipe["n_critic"] == 1
        assert recipe["critic_options"]["norm"] == "layer"  # kept from the base recipe
        assert recipe["critic_optimizer"]["lr"] == 2e-4
    finally:
        sys.path.remove(str(EXAMPLE))
        sys.modules.pop("ganbench_extra_losses", None)


def test_example_package_installs_lists_runs_reruns_when_edited_and_goes_away(tmp_path):
    """Installed with ``pip install --target`` into this test's tmp folder and put on PYTHONPATH for the commands
    it runs: the suite's environment never has it, so an interrupted run leaves nothing installed."""
    import importlib.metadata as md
    import shutil

    package = tmp_path / "pkg"  # a copy, so the test can edit it as an author would
    shutil.copytree(EXAMPLE, package, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = tmp_path / "site"
    pip = [sys.executable, "-m", "pip"]
    quiet = {"capture_output": True, "text": True}
    base_env = {**os.environ, "GANBENCH_LOAD_PLUGINS": "ganbench,extra_losses", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env = {**base_env, "PYTHONPATH": os.pathsep.join(filter(None, [str(target), os.environ.get("PYTHONPATH")]))}

    def install():
        done = subprocess.run([*pip, "install", "--no-deps", "--no-build-isolation", "--no-index", "--upgrade",
                               "--target", str(target), str(package)], **quiet)
        assert done.returncode == 0, done.stderr

    def run(models):
        done = subprocess.run([sys.executable, "-m", "ganbench", "run", "--models", models, "--budget", "smoke",
                               "--results", str(tmp_path / "r"), "-q"], env=env, **quiet)
        assert done.returncode == 0, done.stderr
        return done

    install()
    try:
        listed = subprocess.run([sys.executable, "-m", "ganbench", "plugins", "--json"], env=env, **quiet)
        assert listed.returncode == 0, listed.stderr
        info = {p["name"]: p for p in json.loads(listed.stdout)}["extra_losses"]
        assert info["distribution"] == "ganbench-extra-losses" and info["version"] == "0.2.0"
        assert info["registers"] == {"loss": ["ex-hinge", "ex-least-squares", "ex-ragan", "ex-r1"],
                                     "model": ["ex-hinge-gan", "ex-r1-gan", "ex-ragan"]}
        first = run("dcgan,ex-ragan")
        assert "ex-ragan" in first.stdout and "gray" in first.stdout
        assert "already complete" in run("ex-ragan").stderr  # unchanged: skipped
        source = package / "ganbench_extra_losses" / "__init__.py"
        source.write_text(source.read_text().replace('description = "relativistic average BCE (RaGAN)"',
                                                     'description = "RaGAN (edited)"'))
        install()  # same version number, edited code
        again = run("ex-ragan")
        assert "already complete" not in again.stderr
        runs = sorted((tmp_path / "r" / "runs").glob("*-ex-ragan-*"))
        assert len(runs) == 2
        losses = [json.loads((r / "run.json").read_text())["identity"]["loss"] for r in runs]
        assert losses[0] != losses[1]
        assert all(v.startswith("ex-ragan: ganbench-extra-losses 0.2.0, ganbench_extra_losses@") for v in losses)
    finally:
        shutil.rmtree(target, ignore_errors=True)
    gone = subprocess.run([sys.executable, "-m", "ganbench", "plugins", "--json"], env=env, **quiet)
    assert gone.returncode == 4 and "names no installed plugin: extra_losses" in gone.stderr
    with pytest.raises(md.PackageNotFoundError):  # never in the environment running the suite
        md.distribution("ganbench-extra-losses")
