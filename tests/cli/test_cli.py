"""End to end through the CLI, as a user runs it; and one clear line for every user mistake."""

import json
import math
import os

import pandas as pd
import pytest
from click.testing import CliRunner

from ganbench.cli import cli


def invoke(*args, **kw):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False, **kw)


@pytest.fixture(scope="module")
def smoke_results(tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    out = CliRunner().invoke(cli, ["run", "--models", "dcgan,wgan,wgan-gp", "--budget", "smoke", "--results",
                                   str(results), "--device", "cpu"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    return results, out


def test_run_all_three_then_report(smoke_results):
    results, _ = smoke_results
    out = invoke("report", "--results", results)
    assert out.exit_code == 0
    csv = pd.read_csv(results / "report" / "report.csv")
    assert set(csv["model"]) >= {"dcgan", "wgan", "wgan-gp", "gray"}
    models = csv[csv["model"].isin(["dcgan", "wgan", "wgan-gp", "gray"])]
    assert len(models) == 4
    for col in ("psnr", "mae"):
        assert all(math.isfinite(v) for v in models[col])
    assert all(models.loc[models["model"] != "gray", "images_per_s"] > 0)
    md = (results / "report" / "report.md").read_text()
    for name in ("| dcgan", "| wgan", "| wgan-gp", "| gray"):
        assert name in md
    for name in ("dcgan", "wgan-gp", "gray"):
        assert name in out.output


def test_run_folder_contents(smoke_results):
    results, _ = smoke_results
    runs = sorted((results / "runs").iterdir())
    assert len(runs) == 3
    for run in runs:
        names = {p.name for p in run.iterdir()}
        assert {"run.json", "metrics.json", "history.csv", "per_image.csv", "samples.png",
                "generator.pt"} <= names
        assert "state.pt" not in names  # the resume state is dropped once complete
        rec = json.loads((run / "run.json").read_text())
        assert rec["status"] == "complete" and rec["schema_version"] == 1
        assert rec["budget"]["name"] == "smoke" and rec["spent"]["generator_steps"] == 4
        assert rec["spent"]["critic_steps"] == 4 * rec["config"]["recipe"]["n_critic"]
        assert rec["provenance"]["torch_version"] and rec["command"].startswith("ganbench run")
        assert rec["throughput"]["flops_per_image"]["train_step"] > 0
        metrics = json.loads((run / "metrics.json").read_text())
        assert 15 < metrics["gray"]["psnr"] < 30


def test_rerunning_the_same_command_skips_completed_runs(smoke_results):
    results, _ = smoke_results
    out = invoke("run", "--models", "dcgan", "--budget", "smoke", "--results", results, "--device", "cpu")
    assert out.exit_code == 0
    assert "already complete" in out.output
    assert len(list((results / "runs").iterdir())) == 3


def test_evaluate_json(smoke_results):
    results, _ = smoke_results
    run = next(p for p in (results / "runs").iterdir() if "-dcgan-" in p.name)
    out = invoke("evaluate", run, "--json", "--device", "cpu")
    assert out.exit_code == 0
    data = json.loads(out.output)
    assert set(data["scores"]) >= {"psnr", "mae", "colorfulness"}
    metrics = json.loads((run / "metrics.json").read_text())
    assert abs(data["scores"]["psnr"] - metrics["model"]["psnr"]) < 1e-9
    assert abs(data["gray"]["psnr"] - metrics["gray"]["psnr"]) < 1e-9


def test_budgets_command():
    out = invoke("budgets", "--json")
    names = [b["name"] for b in json.loads(out.output)]
    assert names == ["smoke", "cpu", "seed", "gpu"]


def _one_line_error(out, code, *needles):
    assert out.exit_code == code, out.output
    text = out.output.strip()
    assert text.startswith("error:") and "\n" not in text and "Traceback" not in text, text
    for n in needles:
        assert n in text, text


BAD = [
    (["run", "--models", "dcgann"], 2, ["unknown model 'dcgann'", "Did you mean 'dcgan'"]),
    (["run", "--models", "dcgan", "--set", "loss=bec"], 2, ["unknown loss 'bec'", "'bce'"]),
    (["run", "--models", "dcgan", "--dataset", "placs365"], 2, ["unknown dataset", "places365"]),
    (["run", "--models", "dcgan", "--metrics", "psnr,ssmi"], 2, ["unknown metric 'ssmi'", "'ssim'"]),
    (["run", "--models", "dcgan", "--budget", "images=lots"], 2, ["malformed --budget"]),
    (["run", "--models", "dcgan", "--budget", "smokey"], 2, ["unknown budget", "smoke"]),
    (["run", "--models", "dcgan", "--budget", "smoke,warp=9"], 2, ["unknown --budget key"]),
    (["run", "--models", "dcgan", "--set", "generator.depth"], 2, ["malformed --set"]),
    (["run", "--models", "dcgan", "--set", "gen.depth=4"], 2, ["unknown --set key"]),
    (["run", "--models", "dcgan", "--seeds", "a,b"], 2, ["malformed --seeds"]),
    (["run", "--models", "dcgan", "--seeds", "0"], 2, ["--seeds"]),
    (["run", "--models", "dcgan", "--budget", "smoke", "--image-size", "40"], 2,
     ["image size 40", "2^5"]),
    (["run", "--models", "dcgan", "--budget", "smoke", "--batch-size", "0"], 2, ["batch size"]),
    (["run", "--models", "dcgan", "--dataset", "folder"], 3, ["--data-root"]),
    (["run", "--models", "dcgan", "--set", "critic.norm=weird"], 4, ["plugin patchgan: critic 'patchgan'", "norm"]),
    (["run", "--models", "dcgan", "--set", "generator.depth=-2"], 4, ["plugin unet: generator 'unet'", "depth"]),
    (["run", "--models", "dcgan", "--set", "critic_optimizer.name=adamm"], 2, ["unknown optimizer"]),
    (["run", "--models", "dcgan", "--set", "n_critic=0"], 2, ["n_critic"]),
    (["run", "--models", ""], 2, ["no models"]),
    (["run", "--models", "dcgan,dcgan"], 2, ["twice"]),
]


@pytest.mark.parametrize("args,code,needles", BAD, ids=[" ".join(a[2:]) for a, _, _ in BAD])
def test_bad_input_is_one_clear_line(tmp_path, args, code, needles):
    out = CliRunner().invoke(cli, [*args, "--results", str(tmp_path / "r")])
    _one_line_error(out, code, *needles)
    assert not (tmp_path / "r" / "runs").exists() or not any((tmp_path / "r" / "runs").iterdir())


def test_missing_and_empty_data_root(tmp_path):
    out = CliRunner().invoke(cli, ["run", "--models", "dcgan", "--dataset", "folder", "--data-root",
                                   str(tmp_path / "nope")])
    _one_line_error(out, 3, "does not exist")
    (tmp_path / "empty").mkdir()
    out = CliRunner().invoke(cli, ["run", "--models", "dcgan", "--dataset", "folder", "--data-root",
                                   str(tmp_path / "empty")])
    _one_line_error(out, 3, "no image files")


def test_bad_config_files(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[run\nmodels = 1")
    _one_line_error(CliRunner().invoke(cli, ["run", "--config", str(bad)]), 2, "not valid TOML")
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('[run]\nmodels = ["dcgan"]\nbudgett = "smoke"\n')
    _one_line_error(CliRunner().invoke(cli, ["run", "--config", str(unknown)]), 2, "budgett")
    model = tmp_path / "model.toml"
    model.write_text('[models.x]\nbase = "dcgan"\nlos = "bce"\n')
    _one_line_error(CliRunner().invoke(cli, ["run", "--models", "x", "--config", str(model)]), 2, "los")
    _one_line_error(CliRunner().invoke(cli, ["run", "--config", str(tmp_path / "missing.toml")]), 2,
                    "does not exist")


def _read_only_run(folder, args):
    """``ganbench ARGS`` in a subprocess that cannot write ``folder``: as a normal user the folder loses its
    write permission; as root (who writes anywhere, as CI does) it is bind-mounted read-only in a private
    mount namespace (``unshare``), so the write fails with EROFS as on a read-only disk."""
    import shutil
    import subprocess
    import sys

    env = {**os.environ, "GANBENCH_LOAD_PLUGINS": "ganbench", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "ganbench", *args]
    if os.geteuid() != 0:
        folder.chmod(0o500)
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    unshare = shutil.which("unshare")
    probe = subprocess.run([unshare or "unshare", "--mount", "true"], capture_output=True) if unshare else None
    if probe is None or probe.returncode != 0:
        pytest.skip("running as root without a mount namespace (unshare --mount refused): cannot make a "
                    "read-only folder")
    script = 'mount --bind -o ro "$1" "$1" && shift && exec "$@"'
    return subprocess.run([unshare, "--mount", "sh", "-c", script, "sh", str(folder), *cmd], env=env,
                          capture_output=True, text=True, timeout=300)


def test_results_not_writable_is_one_line_exit_5(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    res = _read_only_run(ro, ["run", "--models", "dcgan", "--budget", "smoke", "--results", str(ro)])
    assert res.returncode == 5, res.stderr
    assert res.stderr.startswith("error: results folder not writable") and res.stderr.count("\n") == 1
    assert "Traceback" not in res.stderr and not any(ro.iterdir())


def test_results_not_writable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("I am a file, not a folder")
    out = CliRunner().invoke(cli, ["run", "--models", "dcgan", "--budget", "smoke", "--results",
                                   str(blocker / "sub")])
    _one_line_error(out, 5, "cannot write")


def test_resume_of_a_folder_that_is_not_a_run(tmp_path):
    out = CliRunner().invoke(cli, ["run", "--resume", str(tmp_path)])
    _one_line_error(out, 5, "not a ganbench run folder")


def test_report_without_results(tmp_path):
    _one_line_error(CliRunner().invoke(cli, ["report", "--results", str(tmp_path / "none")]), 5, "does not exist")
