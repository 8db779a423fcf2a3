"""The plugin contract: entry points, in-process plugins, clashes, misspelt hooks, broken imports."""

import importlib.metadata as md
import types

import pytest
import torch
from click.testing import CliRunner

from ganbench.api import AdversarialLoss
from ganbench.cli import cli
from ganbench.core.errors import PluginError
from ganbench.core.hookspecs import hookimpl
from ganbench.core.registry import load_registry
from ganbench.testing import plugin, train_tiny


class HingeLoss(AdversarialLoss):
    def critic_loss(self, real, fake):
        return torch.relu(1 - real).mean() + torch.relu(1 + fake).mean()

    def generator_loss(self, fake):
        return -fake.mean()


def test_builtins_come_through_the_entry_point_group():
    eps = {ep.name: ep for ep in md.entry_points(group="ganbench")}
    assert {"unet", "patchgan", "losses", "recipes", "datasets", "metrics"} <= set(eps)
    assert all(eps[n].dist.name == "ganbench" for n in ("losses", "recipes"))
    reg = load_registry()
    assert reg.get("model", "dcgan").plugin == "recipes"
    assert set(reg.names("model")) >= {"dcgan", "wgan", "wgan-gp"}


def test_load_plugins_variable_restricts(monkeypatch):
    reg = load_registry(env={"GANBENCH_LOAD_PLUGINS": "losses,metrics"})
    assert reg.names("model") == [] and "bce" in reg.names("loss")
    reg = load_registry(env={"GANBENCH_LOAD_PLUGINS": ""})
    assert reg.plugins == {}


def test_in_process_plugin_adds_a_loss_a_run_can_use(tmp_path, dcgan_with_loss):
    with plugin(dcgan_with_loss("test-hinge", HingeLoss, "test-hinge-gan"), name="hinge-test") as reg:
        assert reg.get("loss", "test-hinge").plugin == "hinge-test"
        result = train_tiny(reg, loss="test-hinge")
        assert result.finite and result.generator_changed and result.critic_changed
        out = CliRunner().invoke(cli, ["run", "--models", "test-hinge-gan", "--budget", "smoke", "-q",
                                       "--results", str(tmp_path)])
        assert out.exit_code == 0, out.output
        assert "test-hinge-gan" in out.output
    assert "test-hinge" not in load_registry().names("loss")  # gone after the block


def test_clashing_name_fails_naming_both_plugins():
    class Clash:
        @hookimpl
        def register_losses(self, register):
            register("bce", HingeLoss)

    with pytest.raises(PluginError) as exc, plugin(Clash(), name="clashing-plugin"):
        pass
    assert "'bce'" in str(exc.value) and "losses" in str(exc.value) and "clashing-plugin" in str(exc.value)


def test_clash_on_the_cli_is_one_line_exit_4():
    class Clash:
        @hookimpl
        def register_models(self, register):
            register("dcgan", dict)

    with pytest.raises(PluginError), plugin(Clash(), name="clash2"):
        pass
    from ganbench.core import registry as r
    r.IN_PROCESS.append(("clash2", Clash()))
    try:
        out = CliRunner().invoke(cli, ["plugins"])
    finally:
        r.IN_PROCESS.pop()
    assert out.exit_code == 4
    assert out.output.strip().count("\n") == 0 and "registered twice" in out.output


def test_misspelt_hook_fails_fast():
    class Typo:
        @hookimpl
        def register_loss(self, register):  # should be register_losses
            pass

    with pytest.raises(PluginError, match="register_loss"), plugin(Typo(), name="typo"):
        pass


def test_broken_plugin_import_names_it(monkeypatch):
    class FakeEP:
        name, value, group = "broken", "broken_pkg.plugin", "ganbench"
        dist = types.SimpleNamespace(name="broken-pkg", version="9.9")

        def load(self):
            raise ImportError("No module named 'numpyy'")

    real = md.entry_points

    def fake_entry_points(**kw):
        return [*real(**kw), FakeEP()]

    monkeypatch.setattr(md, "entry_points", fake_entry_points)
    with pytest.raises(PluginError) as exc:
        load_registry(env={})
    assert "broken" in str(exc.value) and "broken-pkg" in str(exc.value) and "numpyy" in str(exc.value)
    out = CliRunner().invoke(cli, ["plugins"], env={"GANBENCH_LOAD_PLUGINS": None})
    assert out.exit_code == 4 and "failed to import" in out.output and "Traceback" not in out.output


def test_plugins_command_lists_versions_and_registrations_as_json():
    import json

    out = CliRunner().invoke(cli, ["plugins", "--json"])
    assert out.exit_code == 0
    data = {p["name"]: p for p in json.loads(out.output)}
    assert data["recipes"]["registers"]["model"] == ["dcgan", "wgan", "wgan-gp", "sngan-hinge", "sngan-ttur", "lsgan",
                                                     "ragan", "stylegan-r1", "l1", "l1-wgan", "l1-wgan-gp"]
    assert data["losses"]["version"] and data["losses"]["distribution"] == "ganbench"


def test_invalid_names_rejected():
    class Bad:
        @hookimpl
        def register_losses(self, register):
            register("a,b", HingeLoss)

    with pytest.raises(PluginError, match="invalid"), plugin(Bad(), name="bad"):
        pass


def _network_plugin(**register_kw):
    from ganbench.core.contract import SizeHints

    seen: list[SizeHints | None] = []

    class Networks:
        @hookimpl
        def register_generators(self, register):
            from ganbench_plugins.unet import UNet

            def factory(hints=None, **options):
                seen.append(hints)
                return UNet(**options)

            register("seen-unet", factory, **register_kw)

    return Networks(), seen


def _build_with_hints(reg):
    from ganbench.core.budgets import BUDGETS
    from ganbench_plugins.recipes import dcgan

    recipe = dcgan()
    recipe.generator = "seen-unet"
    return reg.build(recipe, "generator", BUDGETS["smoke"].size_hints("generator"))


def test_a_declared_capability_is_used_without_a_warning(recwarn):
    obj, seen = _network_plugin(accepts=("hints",))
    with plugin(obj, name="declared") as reg:
        _build_with_hints(reg)
        assert reg.accepts("generator", "seen-unet", "hints") and not reg.accepts("generator", "seen-unet", "x")
    assert seen and seen[0].width == 8  # the smoke budget's generator width
    assert not [w for w in recwarn if issubclass(w.category, DeprecationWarning)]


def test_a_capability_guessed_from_the_signature_still_works_with_a_deprecation_warning():
    obj, seen = _network_plugin()  # an older plugin: no accepts=, a parameter named `hints`
    with plugin(obj, name="older"), pytest.warns(DeprecationWarning, match="older: generator 'seen-unet'.*accepts"):
        _build_with_hints(load_registry())
    assert seen and seen[0].width == 8


def test_declaring_no_hints_means_none_are_passed():
    obj, seen = _network_plugin(accepts=())
    with plugin(obj, name="none") as reg:
        _build_with_hints(reg)
    assert seen == [None]


def test_accepts_naming_a_keyword_the_factory_lacks_fails_fast():
    class Bad:
        @hookimpl
        def register_datasets(self, register):
            register("bad-data", lambda root=None: None, accepts=("evaluate_all",))

    with pytest.raises(PluginError, match="bad: dataset 'bad-data' declares accepts=evaluate_all"), \
            plugin(Bad(), name="bad"):
        pass


def test_builtins_declare_their_capabilities(registry):
    assert registry.declared_options("generator", "unet") == {"hints"}
    assert registry.declared_options("critic", "patchgan") == {"hints"}
    assert registry.declared_options("dataset", "folder") == {"evaluate_all"}
    assert registry.declared_options("executor", "local") == {"jobs"}
    assert "partition" in registry.declared_options("executor", "slurm")
