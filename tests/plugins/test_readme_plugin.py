"""The README's "Add your own loss" code is a working plugin: registered as-is, it lists, trains and runs."""

import json
import re
import types
from pathlib import Path

from click.testing import CliRunner

from ganbench.cli import cli
from ganbench.testing import plugin, train_tiny

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_plugin() -> types.ModuleType:
    section = README.read_text().split("## Add your own loss", 1)[1].split("\n## ", 1)[0]
    [code] = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    module = types.ModuleType("my_losses")
    exec(compile(code, "README.md", "exec"), module.__dict__)
    return module


def test_readme_loss_plugin_trains_and_runs(tmp_path):
    module = _readme_plugin()
    with plugin(module) as reg:
        assert "my-softplus" in reg.names("loss") and "my-gan" in reg.names("model")
        result = train_tiny(reg, model="my-gan")
        assert result.finite and result.generator_changed and result.critic_changed
        out = CliRunner().invoke(cli, ["run", "--models", "my-gan", "--budget", "smoke", "--results", str(tmp_path),
                                       "-q"])
    assert out.exit_code == 0, out.output
    [run] = list((tmp_path / "runs").iterdir())
    recipe = json.loads((run / "run.json").read_text())["config"]["recipe"]
    assert recipe["loss"] == "my-softplus" and recipe["critic_options"] == {"norm": "batch"}
