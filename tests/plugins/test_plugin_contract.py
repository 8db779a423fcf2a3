"""The plugin contract without walls (issue 17): the loss interface (real scores for the generator loss,
the global batch under torchrun), plugin failures as one line, a run's identity, size hints instead of
forced options, ``ganbench.api`` as the one import, and the small things ``ganbench plugins`` checks."""

from __future__ import annotations

import ast
import json
import math
import os
import shutil
import sys
import types
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from torch import nn

from ganbench.api import AdversarialLoss, Recipe, SizeHints, hookimpl
from ganbench.cli import cli
from ganbench.core.errors import PluginError
from ganbench.core.registry import load_registry
from ganbench.core.request import RunRequest
from ganbench.grid.in_process import run_comparison
from ganbench.testing import plugin, train_tiny

TORCHRUN = shutil.which("torchrun", path=os.path.dirname(sys.executable)) or shutil.which("torchrun")
DDP_WORKER = str(Path(__file__).parents[1] / "ddp_loss_worker.py")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "plugins" / "examples" / "ganbench-extra-losses"


@pytest.fixture
def extra():
    """The example package, imported from the repository (not installed)."""
    sys.path.insert(0, str(EXAMPLE))
    try:
        import ganbench_extra_losses

        yield ganbench_extra_losses
    finally:
        sys.path.remove(str(EXAMPLE))
        sys.modules.pop("ganbench_extra_losses", None)


# --- 1. the loss interface ------------------------------------------------------------------------------


def _log_sigmoid(x: float) -> float:
    import math

    return -math.log1p(math.exp(-x))


def test_ragan_losses_match_a_hand_computation(extra):
    real = [1.5, -0.5, 0.25, 2.0]
    fake = [-1.0, 0.5, -2.0]
    mr, mf = sum(real) / len(real), sum(fake) / len(fake)
    # critic: -½(E_r log σ(r - E f) + E_f log(1 - σ(f - E r))); log(1 - σ(z)) = log σ(-z)
    critic = -0.5 * (sum(_log_sigmoid(r - mf) for r in real) / len(real)
                     + sum(_log_sigmoid(-(f - mr)) for f in fake) / len(fake))
    generator = -0.5 * (sum(_log_sigmoid(f - mr) for f in fake) / len(fake)
                        + sum(_log_sigmoid(-(r - mf)) for r in real) / len(real))
    loss = extra.RelativisticAverageLoss()
    r, f = torch.tensor(real, dtype=torch.float64), torch.tensor(fake, dtype=torch.float64)
    assert float(loss.critic_loss(r, f)) == pytest.approx(critic, rel=1e-12)
    assert float(loss.generator_loss(f, r)) == pytest.approx(generator, rel=1e-12)
    assert loss.generator_sees_real_scores


def test_r1_penalty_matches_a_hand_computation_for_a_linear_critic(extra):
    # a 1x1-conv critic scores every pixel w·x + b; the image's score is the mean over its h·w patches, so
    # ∇ₓ D = w / (h·w) at every pixel and ||∇ₓ D||² = |w|² / (h·w) for every image
    critic = nn.Conv2d(3, 1, 1).double()
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([0.5, -2.0, 1.0], dtype=torch.float64).view(1, 3, 1, 1))
    h, w, gamma = 4, 6, 7.0
    real = torch.randn(5, 3, h, w, dtype=torch.float64)
    penalty = extra.R1Loss(gamma=gamma).critic_regularizer(critic, real, real.flip(0))
    assert float(penalty.detach()) == pytest.approx(gamma / 2 * (0.25 + 4 + 1) / (h * w), rel=1e-12)
    penalty.backward()  # differentiable in the critic's weights (create_graph)
    assert critic.weight.grad is not None and float(critic.weight.grad.abs().sum()) > 0
    logits = torch.tensor([0.3, -1.2], dtype=torch.float64)
    nonsat = extra.R1Loss().generator_loss(logits)
    assert float(nonsat) == pytest.approx(-(_log_sigmoid(0.3) + _log_sigmoid(-1.2)) / 2, rel=1e-12)
    assert not extra.R1Loss().generator_sees_real_scores


class SpyLoss(AdversarialLoss):
    """BCE whose generator loss takes (and records) the real scores."""

    seen: list = []

    def critic_loss(self, real_scores, fake_scores):
        return (F.binary_cross_entropy_with_logits(real_scores, torch.ones_like(real_scores))
                + F.binary_cross_entropy_with_logits(fake_scores, torch.zeros_like(fake_scores)))

    def generator_loss(self, fake_scores, real_scores):
        SpyLoss.seen.append((fake_scores.detach().clone(), real_scores.clone(), real_scores.requires_grad))
        return F.binary_cross_entropy_with_logits(fake_scores - real_scores.mean(), torch.ones_like(fake_scores))


class LegacyLoss(SpyLoss):
    def generator_loss(self, fake_scores):
        return F.binary_cross_entropy_with_logits(fake_scores, torch.ones_like(fake_scores))


def _trainer(reg, loss, norm, batches=None):
    from ganbench.train.setup import build_trainer

    return build_trainer(reg, "dcgan", "smoke", sets={"loss": loss, "critic.norm": norm}, batches=batches)


def _generator_step_spy(tr, batches):
    """What the generator step works on, seen through public seams: the batch source (``batches``, which
    records the last batch drawn), the generator's forward with gradients (the step's fake), and the critic's
    passes (``rows``: their batch sizes) after the critic's last optimiser step, i.e. in the generator step."""
    seen = {}

    def fake_made(module, inputs, output):
        if torch.is_grad_enabled():
            seen.update(L=batches.last[0], ab=batches.last[1], fake=output.detach())

    def critic_pass(module, inputs, output):
        if "rows" in seen:
            seen["rows"].append(inputs[0].shape[0])

    tr.nets.generator.register_forward_hook(fake_made)
    tr.nets.critic_optimizer.register_step_post_hook(lambda *a: seen.update(rows=[]))
    tr.nets.critic.register_forward_hook(critic_pass)
    return seen


class _Recording:
    """A batch source that remembers the last batch it gave."""

    def __init__(self):
        from ganbench.data.pipeline import TrainSampler
        from ganbench.data.synthetic import synthetic_data
        from ganbench.train.batches import PhotoBatches

        self.photos = PhotoBatches(TrainSampler(synthetic_data(32).train, 32, 4, 0), torch.device("cpu"), False)
        self.last = None

    def __call__(self, index):
        self.last = self.photos(index)
        return self.last


@pytest.mark.parametrize("norm", ["layer", "batch"])
def test_generator_loss_sees_the_real_scores_of_its_own_step(dcgan_with_loss, norm):
    SpyLoss.seen = []
    with plugin(dcgan_with_loss("spy", SpyLoss, "spy-gan"), name="spy") as reg:
        batches = _Recording()
        tr = _trainer(reg, "spy", norm, batches)
        inputs = _generator_step_spy(tr, batches)
        tr.train_step()
        rows = inputs["rows"]
    [(fake_s, real_s, real_requires_grad)] = SpyLoss.seen
    assert not real_requires_grad  # detached: no gradient reaches the critic from the generator step
    # the critic's current weights (after this step's critic update) on this step's batch
    critic = tr.nets.critic
    if norm == "layer":
        assert rows == [8]  # one pass over fake and real together
        fake, real = torch.cat([inputs["L"], inputs["fake"]], 1), torch.cat([inputs["L"], inputs["ab"]], 1)
        want_fake, want_real = critic(torch.cat([fake, real])).chunk(2)
    else:
        assert rows == [4, 4]  # BatchNorm: separate passes, as in the critic step
        want_fake = critic(torch.cat([inputs["L"], inputs["fake"]], 1))
        want_real = critic(torch.cat([inputs["L"], inputs["ab"]], 1))
    torch.testing.assert_close(real_s, want_real.detach(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(fake_s, want_fake.detach(), rtol=1e-5, atol=1e-5)


def test_a_generator_loss_without_real_scores_still_works_and_costs_no_extra_critic_work(dcgan_with_loss):
    with plugin(dcgan_with_loss("legacy", LegacyLoss, "legacy-gan"), name="legacy") as reg:
        batches = _Recording()
        tr = _trainer(reg, "legacy", "layer", batches)
        seen = _generator_step_spy(tr, batches)
        tr.train_step()
        assert seen["rows"] == [4]  # the fake batch alone
        # every statistic the loss has is finite (a loss without a Wasserstein estimate leaves it empty: NaN)
        assert all(v is None or math.isfinite(v) for v in tr.pending_stats().values())
        assert tr.pending_stats()["d_loss"] is not None and tr.pending_stats()["g_adv"] is not None


def test_ragan_and_r1_train_with_the_testing_helpers(extra):
    with plugin(extra) as reg:
        for loss, model in (("ex-ragan", "ex-ragan"), ("ex-r1", "ex-r1-gan")):
            result = train_tiny(reg, loss=loss, model=model, steps=2)
            assert result.finite and result.generator_changed and result.critic_changed, loss
        assert train_tiny(reg, model="ex-r1-gan", steps=1).losses[-1]["d_reg"] > 0  # the penalty is on


@pytest.mark.skipif(TORCHRUN is None, reason="torchrun not found")
def test_under_data_parallelism_a_loss_sees_the_global_batch_and_gets_one_process_gradients(tmp_path):
    from ddp_loss_worker import batch, critic, ragan_generator
    from procs import run_bounded

    x, real = batch()
    net = critic()
    loss = ragan_generator(net(x), real)
    loss.backward()
    out = tmp_path / "rank0.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = run_bounded([TORCHRUN, "--standalone", "--nproc-per-node=2", DDP_WORKER, str(out)], timeout=300, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    got = json.loads(out.read_text())
    assert got["rows"] == 8  # every process saw the global batch's scores
    assert got["loss"] == pytest.approx(loss.item(), rel=1e-12)
    torch.testing.assert_close(torch.tensor(got["grad"], dtype=torch.float64), net.weight.grad, rtol=1e-10,
                               atol=1e-12)


# --- 2. a plugin factory that fails ---------------------------------------------------------------------


class Boom:
    def __init__(self, exc):
        self.exc = exc

    @hookimpl
    def register_losses(self, register):
        exc = self.exc

        def factory(**options):
            raise exc

        register("boom", factory)


@pytest.mark.parametrize("exc", [ValueError("alpha must be < 1"), RuntimeError("needs CUDA graphs"),
                                 KeyError("missing-table")], ids=lambda e: type(e).__name__)
def test_every_exception_from_a_plugin_factory_is_one_line_naming_it_exit_4(tmp_path, exc):
    with plugin(Boom(exc), name="boom-plugin"):
        out = CliRunner().invoke(cli, ["run", "--models", "dcgan", "--set", "loss=boom", "--budget", "smoke",
                                       "--results", str(tmp_path), "-q"])
    assert out.exit_code == 4, out.output
    line = out.output.strip()
    assert "\n" not in line and "Traceback" not in line and "image size" not in line
    assert line.startswith("error: plugin boom-plugin: loss 'boom'")
    assert type(exc).__name__ in line and str(exc.args[0]) in line


def test_a_network_factory_failure_is_not_called_a_shape_error(tmp_path):
    class BadNet:
        @hookimpl
        def register_generators(self, register):
            register("bad-net", lambda **o: {}["weights"])

    with plugin(BadNet(), name="bad-net-plugin"):
        out = CliRunner().invoke(cli, ["run", "--models", "dcgan", "--set", "generator=bad-net", "--budget",
                                       "smoke", "--results", str(tmp_path), "-q"])
    assert out.exit_code == 4 and "plugin bad-net-plugin: generator 'bad-net'" in out.output
    assert "KeyError" in out.output and "image size" not in out.output


# --- 3. a run's identity --------------------------------------------------------------------------------


def test_identity_is_recorded_and_a_changed_plugin_or_recipe_trains_again(tmp_path, dcgan_with_loss, monkeypatch):
    from ganbench.core import registry as registry_module
    from ganbench.grid.plan import plan_comparison

    def request(**kw):
        return RunRequest(models=["id-gan"], budget="smoke,steps=1", results=tmp_path, device="cpu", **kw)

    with plugin(dcgan_with_loss("id-loss", LegacyLoss, "id-gan"), name="id-plugin") as reg:
        [first] = run_comparison(request(), reg)
        assert first.status == "complete"
        record = json.loads((first.run_dir / "run.json").read_text())
        identity = record["identity"]
        assert set(identity) == {"recipe_hash", "generator", "critic", "loss", "dataset"}
        assert len(identity["recipe_hash"]) == 12
        assert identity["generator"].startswith("unet: ganbench 0.1.0, ganbench_plugins.unet@")
        assert identity["loss"].startswith("id-loss: in-process id-plugin, ")  # the module defining LegacyLoss
        assert set(record["scoring"]) == {"psnr", "mae", "ssim", "colorfulness", "ab-swd", "delta-cf"}  # not in the key
        assert record["config"]["identity"] == identity
        assert run_comparison(request(), reg)[0].status == "skipped"
        [other_recipe] = plan_comparison(request(sets={"l1_weight": 50.0}), reg)
        assert other_recipe.identity["recipe_hash"] != identity["recipe_hash"]
        assert other_recipe.run_key() != record["key"]
        real_hash = registry_module.module_hash
        monkeypatch.setattr(registry_module, "module_hash",  # the loss' module's source changed
                            lambda m: "edited" if m is sys.modules[LegacyLoss.__module__] else real_hash(m))
        [edited] = run_comparison(request(), reg)
    assert edited.status == "complete" and edited.run_dir != first.run_dir
    now = json.loads((edited.run_dir / "run.json").read_text())["identity"]
    assert now["loss"].endswith("@edited") and now["loss"] != identity["loss"]
    assert {k: v for k, v in now.items() if k != "loss"} == {k: v for k, v in identity.items() if k != "loss"}


def test_rerun_flag_on_the_cli(tmp_path):
    args = ["run", "--models", "l1", "--budget", "smoke,steps=1", "--results", str(tmp_path), "-q"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    again = CliRunner().invoke(cli, args)
    assert "already complete" in again.output
    fresh = CliRunner().invoke(cli, [*args, "--rerun"])
    assert fresh.exit_code == 0 and "already complete" not in fresh.output
    assert len(list((tmp_path / "runs").iterdir())) == 2


# --- 4. testing.plugin on an installed module -----------------------------------------------------------


def test_testing_plugin_accepts_a_module_that_is_also_installed():
    import ganbench_plugins.losses as installed  # loaded through its entry point too

    with plugin(installed) as reg:
        assert reg.get("loss", "bce").plugin == "losses"
        assert train_tiny(reg, loss="bce", steps=1).finite


# --- 5. budgets hint sizes, they do not force options ---------------------------------------------------


class Plain(nn.Module):
    """A generator with options of its own and none of the built-ins' (no depth, no base_channels)."""

    def __init__(self, hidden: int = 4):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, hidden, 3, padding=1), nn.ReLU(), nn.Conv2d(hidden, 2, 3, padding=1),
                                 nn.Tanh())

    def forward(self, L):
        return self.net(L)


class Sized(Plain):
    seen: list[SizeHints] = []

    def __init__(self, hints: SizeHints | None = None, hidden: int | None = None):
        Sized.seen.append(hints)
        super().__init__(hidden or hints.width)


class Networks:
    """Third-party generators, and recipes that use them (as a plugin's own recipes would)."""

    @hookimpl
    def register_generators(self, register):
        from ganbench_plugins.unet import UNet

        register("plain", lambda **o: Plain(**o))
        register("sized", Sized)
        register("tiny-unet", lambda **o: UNet(depth=4, base_channels=16, **o))  # docs/plugins.md's example

    @hookimpl
    def register_models(self, register):
        from ganbench_plugins.recipes import dcgan

        def recipe(generator, options):
            def make():
                r = dcgan()
                r.generator, r.generator_options = generator, options
                return r

            return make

        register("plain-gan", recipe("plain", {"hidden": 3}))
        register("sized-gan", recipe("sized", {}))
        register("tiny-gan", recipe("tiny-unet", {}))


@pytest.mark.parametrize("budget", ["smoke", "cpu", "seed", "gpu"])
def test_named_budgets_build_networks_that_take_other_options(budget):
    from ganbench.core.budgets import parse_budget
    from ganbench.core.config import resolve_recipe
    from ganbench.grid.plan import plan_comparison

    b = parse_budget(budget)
    Sized.seen = []
    with plugin(Networks(), name="networks") as reg:
        for model, options in (("plain-gan", {"hidden": 3}), ("sized-gan", {}), ("tiny-gan", {})):
            recipe = resolve_recipe(reg, model)
            assert recipe.generator_options == options  # the budget wrote nothing into the recipe
        plan_comparison(RunRequest(models=["plain-gan", "sized-gan", "tiny-gan"], budget=budget, device="cpu"), reg)
    [hints] = Sized.seen  # built once, on the meta device, by the shape check
    assert hints == SizeHints(b.image_size, b.batch_size, width=b.hints["generator"]["width"],
                              depth=b.hints["generator"]["depth"])


def test_builtins_map_the_hints_to_their_options_and_options_win():
    from ganbench.core.budgets import BUDGETS

    reg = load_registry()
    hints = BUDGETS["cpu"].size_hints("generator")
    g = reg.build(Recipe(), "generator", hints)
    assert g.depth == 6 and g.downs[0][0].out_channels == 16
    g = reg.build(Recipe(generator_options={"depth": 4}), "generator", hints)
    assert g.depth == 4 and g.downs[0][0].out_channels == 16
    d = reg.build(Recipe(), "critic", BUDGETS["smoke"].size_hints("critic"))
    assert d.net[0].out_channels == 8 and sum(isinstance(m, nn.Conv2d) for m in d.modules()) == 2 + 2
    assert reg.build(Recipe(), "generator").depth == 6  # no budget: defaults


def test_a_third_party_recipe_trains_under_a_named_budget(tmp_path):
    with plugin(Networks(), name="networks"):
        out = CliRunner().invoke(cli, ["run", "--models", "plain-gan", "--budget", "smoke,steps=1", "--results",
                                       str(tmp_path), "-q"])
    assert out.exit_code == 0, out.output


# --- 7. ganbench.api is the one import; ganbench plugins checks -----------------------------------------


def _ganbench_imports(path: Path) -> list[tuple[str, list[str]]]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "ganbench":
            found.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names if a.name.split(".")[0] == "ganbench"]
    return found


def test_plugins_import_only_ganbench_api_and_nothing_private():
    # every plugin of a kind a benchmark varies (executors drive the runner itself and are not among them)
    files = [*sorted(p for p in (ROOT / "plugins" / "ganbench_plugins").glob("*.py") if p.name != "executors.py"),
             *sorted(EXAMPLE.rglob("*.py"))]
    assert len(files) >= 8
    for path in files:
        for module, names in _ganbench_imports(path):
            assert module == "ganbench.api", f"{path.name} imports {module}"
            assert not any(n.startswith("_") for n in names), f"{path.name} imports private {names}"
        assert "ganbench_plugins." not in path.read_text() or path.name == "__init__.py", path.name
    import ganbench.api as api

    assert all(hasattr(api, name) for name in api.__all__)
    # the executors drive the runs through ganbench.grid too, and nothing else (docs/plugins.md says so)
    executors = ROOT / "plugins" / "ganbench_plugins" / "executors.py"
    assert {module for module, _ in _ganbench_imports(executors)} == {"ganbench.api", "ganbench.grid"}


def test_the_core_never_imports_a_concrete_plugin():
    for path in sorted((ROOT / "ganbench").rglob("*.py")):
        text = path.read_text()
        assert "ganbench_plugins" not in text and "ganbench_extra_losses" not in text, path.name


def test_ganbench_plugins_shows_descriptions(extra):
    with plugin(extra, name="extra"):
        out = CliRunner().invoke(cli, ["plugins", "--json"])
    assert out.exit_code == 0, out.output
    info = {p["name"]: p for p in json.loads(out.output)}["extra"]
    assert info["descriptions"]["loss"]["ex-ragan"] == "relativistic average BCE (RaGAN)"
    with plugin(extra, name="extra"):
        table = CliRunner().invoke(cli, ["plugins"], env={"COLUMNS": "200"})
    assert "ex-ragan — relativistic average BCE (RaGAN)" in table.output


def test_a_plugin_without_hookimpl_is_an_error_that_says_so():
    module = types.ModuleType("forgot_decorator")

    def register_losses(register):
        register("x", LegacyLoss)

    module.register_losses = register_losses
    with pytest.raises(PluginError, match="register_losses is not decorated with @ganbench.api.hookimpl"), \
            plugin(module):
        pass
    with pytest.raises(PluginError, match="registers nothing: it has none of the hooks"), plugin(object()):
        pass


def test_ganbench_plugins_catches_a_recipe_naming_a_missing_loss():
    class Broken:
        @hookimpl
        def register_models(self, register):
            register("broken-gan", lambda: {"loss": "hinge-typo"})

    with plugin(Broken(), name="broken"):
        out = CliRunner().invoke(cli, ["plugins"])
    assert out.exit_code == 4
    err = out.output.strip().splitlines()[-1]
    assert err.startswith("error: 1 recipe(s) cannot run: model 'broken-gan' (plugin broken): unknown loss")
    assert "Known losses: " in err and "losss" not in err


def test_the_tutorials_tests_run_as_written(extra, tmp_path):
    """docs/plugins.md step 6: both test snippets, executed as they are printed (the CliRunner target too)."""
    import re

    import click

    text = (ROOT / "docs" / "plugins.md").read_text()
    step6 = text[text.index("**6. Test it**"):text.index("**7. Publish it**")]
    blocks = re.findall(r"```python\n(.*?)```", step6, flags=re.S)
    assert len(blocks) == 2 and "CliRunner().invoke(cli, " in blocks[1]
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "docs/plugins.md", "exec"), namespace)
    namespace["test_hinge_trains"]()
    namespace["test_ragan_runs"](tmp_path)
    assert list((tmp_path / "runs").glob("*-ex-ragan-*"))
    from ganbench import cli as cli_module

    assert isinstance(cli_module.cli, click.Command) and not isinstance(cli_module.main, click.Command)
