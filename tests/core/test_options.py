"""The run options are declared once (ganbench/core/options.py); the command line, a config file's [run], the
checks, RunRequest and RunConfig all come from that declaration."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from ganbench.cli import cli
from ganbench.core import options
from ganbench.core.config import ConfigFile, RunConfig, load_config_file
from ganbench.core.errors import ConfigError
from ganbench.core.registry import load_registry
from ganbench.core.request import RunRequest, run_request
from ganbench.grid.plan import plan_comparison


def test_every_declared_option_is_a_flag_of_run_and_a_run_key():
    params = {p.name: p for p in cli.commands["run"].params}
    for d in options.run_options():
        assert d.param_name in params, d.name
        assert params[d.param_name].help == d.help
        assert (d.name in options.RUN_KEYS) == d.spec.toml
    request_fields = {f.name for f in fields(RunRequest)}
    config_fields = {f.name for f in fields(RunConfig)}
    for d in options.declared(options.RunSettings):
        assert d.name in request_fields and d.name in config_fields


def test_flag_over_run_table_over_declared_default(tmp_path):
    config = ConfigFile(run={"models": "dcgan,wgan", "checkpoint_every": 7, "ema": 0.5, "seeds": 2,
                             "slurm_partition": "gpu", "budget": "smoke", "variant": "small"})
    request, choice = run_request({"ema": 0.25, "budget": ("cpu", "smoke")}, config)
    assert request.models == ["dcgan", "wgan"] and request.seeds == [0, 1]
    assert request.checkpoint_every == 7  # [run]
    assert request.ema == 0.25  # the flag wins
    assert request.colorfulness_floor == options.default(options.RunSettings, "colorfulness_floor") == 1 / 3
    assert request.results == Path("results") and request.dataset == "embedded"
    assert request.dataset_options == {"variant": "small"}
    assert choice.executor == "local" and choice.executor_options == {"partition": "gpu"}
    assert choice.budgets == ["cpu", "smoke"]


@pytest.mark.parametrize("run, needle", [
    ({"checkpoint_every": "often"}, "[run] checkpoint_every = 'often': expected a whole number"),
    ({"ema": 1.0}, "--ema must be in [0, 1) (a decay; 0 = off), got 1"),
    ({"colorfulness_floor": -0.1}, "--colorfulness-floor must be in [0, 1], got -0.1"),
    ({"precision": "fp8"}, "unknown precision 'fp8': use fp32, bf16, fp16 or auto"),
    ({"compile": "yes"}, "[run] compile = 'yes': expected true or false"),
    ({"limit": 0}, "--limit must be >= 1, got 0"),
    ({"budget": ["smoke", 3]}, "expected a list of strings"),
])
def test_a_bad_run_value_is_one_line_naming_the_option(run, needle):
    with pytest.raises(ConfigError) as err:
        run_request({}, ConfigFile(run={"models": ["dcgan"], **run}))
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_config_file_accepts_exactly_the_declared_keys(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[run]\nmodels = ["dcgan"]\ncheckpoint_every = 5\n')
    assert load_config_file(path).run["checkpoint_every"] == 5
    path.write_text('[run]\ncache_dir = "x"\n')  # a command-line-only option
    with pytest.raises(ConfigError, match="unknown key"):
        load_config_file(path)


def test_settings_reach_every_run_config_and_only_run_key_ones_change_the_key(tmp_path):
    registry = load_registry()
    base = dict(models=["dcgan"], budget="smoke", device="cpu", precision="fp32", results=tmp_path)
    [a] = plan_comparison(RunRequest(**base), registry)
    [b] = plan_comparison(RunRequest(**base, checkpoint_every=3, ema=0.5, colorfulness_floor=0.25), registry)
    assert (b.checkpoint_every, b.ema, b.colorfulness_floor) == (3, 0.5, 0.25)
    outside = set(options.outside_run_key())
    assert "checkpoint_every" in outside and "ema" not in outside
    [c] = plan_comparison(RunRequest(**base, checkpoint_every=3), registry)
    assert c.run_key() == a.run_key() != b.run_key()
    with pytest.raises(ConfigError, match="--ema must be in"):
        plan_comparison(RunRequest(**base, ema=1.5), registry)  # a request built in code is checked too


@pytest.mark.parametrize("command", [["data", "info"], ["evaluate", "no-such-run"]])
def test_the_dataset_flags_of_other_commands_come_from_the_same_declaration(command):
    from click.testing import CliRunner

    params = {p.name for p in cli.commands[command[0]].params} if command[0] != "data" else \
        {p.name for p in cli.commands["data"].commands["info"].params}
    assert {d.param_name for d in options.declared(options.DatasetOptions)} <= params
    out = CliRunner().invoke(cli, [*command, "--dataset", "folder", "--limit", "0"])
    assert out.exit_code == 2 and out.output.strip() == "error: --limit must be >= 1, got 0"
