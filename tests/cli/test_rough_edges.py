"""What got in the way of a new user (issue 20): evaluating a whole folder, a run killed before its first
checkpoint, tables in pipes and logs, values that make no sense, a fake Wasserstein estimate, and what
run.json records about the machine's kernels."""

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from ganbench.cli import cli
from ganbench.core.errors import PluginError
from ganbench.core.registry import load_registry
from ganbench.core.request import RunRequest
from ganbench.grid.in_process import SilentReporter, resume_run, run_comparison
from ganbench.store.results import safe_load

ENV = {**os.environ, "GANBENCH_LOAD_PLUGINS": "ganbench", "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One BCE, one Wasserstein and one critic-less run, two steps each."""
    from ganbench.core.registry import load_registry

    results = tmp_path_factory.mktemp("edges")
    req = RunRequest(models=["dcgan", "wgan", "l1"], budget="smoke,steps=2", results=results, device="cpu")
    outcomes = run_comparison(req, load_registry())
    return results, {o.model: o.run_dir for o in outcomes}


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory, photos):
    """Four usable photos, one grayscale photo and a text file."""
    root = tmp_path_factory.mktemp("held-out")
    for name, arr in photos.items():
        Image.fromarray(arr).save(root / f"{name}.png")
    Image.fromarray(photos["coffee"]).convert("L").save(root / "gray.png")
    (root / "notes.txt").write_text("not a photo")
    return root


# --- 1. evaluate on a folder scores every usable photo and says how many -------------------------------

@pytest.mark.parametrize("option", ["--data-root", "--test-root"])
def test_evaluate_on_a_folder_scores_every_usable_photo(trained, photo_folder, option):
    _, runs = trained
    out = CliRunner().invoke(cli, ["evaluate", str(runs["dcgan"]), "--dataset", "folder", option,
                                   str(photo_folder), "--device", "cpu", "--json"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.output)
    assert result["n_photos"] == 4 and result["n_test_images"] == 4
    reasons = {s["file"].split("/")[-1]: s["reason"] for s in result["skipped"]}
    assert set(reasons) == {"gray.png", "notes.txt"} and "grayscale" in reasons["gray.png"]


def test_evaluate_says_how_many_it_scored_and_skipped(trained, photo_folder):
    _, runs = trained
    out = CliRunner().invoke(cli, ["evaluate", str(runs["dcgan"]), "--dataset", "folder", "--data-root",
                                   str(photo_folder), "--device", "cpu"])
    assert out.exit_code == 0, out.output
    assert "scored 4 photo(s) (4 crops), skipped 2 file(s)" in out.output
    assert "skipped gray.png: grayscale" in out.output


def test_evaluate_refuses_dataset_options_without_a_dataset(trained, photo_folder):
    _, runs = trained
    out = CliRunner().invoke(cli, ["evaluate", str(runs["dcgan"]), "--data-root", str(photo_folder)])
    assert out.exit_code == 2 and out.output.startswith("error:") and "--dataset folder" in out.output


# --- 2. a run killed before its first checkpoint starts again from step 0 ------------------------------

class Crash(BaseException):  # like a kill: not an Exception the grid isolates as one failed run
    pass


class CrashAtStep(SilentReporter):
    def advance(self, completed, info=""):
        if completed == 1:
            raise Crash


def _killed_before_first_checkpoint(results, registry):
    """A run folder as SIGKILL leaves it before the first checkpoint: status running, no state.pt. The
    request is the ``trained`` fixture's dcgan run (checkpoint_every is not part of a run's identity)."""
    req = RunRequest(models=["dcgan"], budget="smoke,steps=2", results=results, device="cpu", checkpoint_every=50)
    with pytest.raises(Crash):
        run_comparison(req, registry, CrashAtStep())
    [run] = list((results / "runs").iterdir())
    record = json.loads((run / "run.json").read_text())
    record["status"] = "running"
    (run / "run.json").write_text(json.dumps(record))
    assert not (run / "state.pt").exists()
    return req, run


def _same_weights(a, b):
    wa, wb = safe_load(a / "generator.pt"), safe_load(b / "generator.pt")
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_resume_restarts_a_run_killed_before_its_first_checkpoint(registry, trained, tmp_path):
    _, reference = trained
    _, run = _killed_before_first_checkpoint(tmp_path, registry)
    reporter = SilentReporter()
    outcome = resume_run(run, registry, reporter)
    assert outcome.status == "complete" and outcome.run_dir == run
    assert any("before its first checkpoint" in m and "from step 0" in m for m in reporter.messages)
    assert _same_weights(reference["dcgan"], run)  # same seed, same numbers
    assert json.loads((run / "run.json").read_text())["restarted"] == 1


def test_rerunning_the_command_restarts_a_run_killed_before_its_first_checkpoint(registry, trained, tmp_path):
    _, reference = trained
    req, run = _killed_before_first_checkpoint(tmp_path, registry)
    reporter = SilentReporter()
    [outcome] = run_comparison(req, registry, reporter)
    assert outcome.run_dir == run and list((tmp_path / "runs").iterdir()) == [run]  # in place, no second folder
    assert any("starting it again from step 0" in m for m in reporter.messages)
    assert _same_weights(reference["dcgan"], run)


# --- 3. tables outside a terminal, closed pipes --------------------------------------------------------

def test_report_table_outside_a_terminal_keeps_words_whole(trained):
    results, _ = trained
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    out = CliRunner().invoke(cli, ["report", "--results", str(results)], env=env)
    assert out.exit_code == 0, out.output
    table = [line for line in out.output.splitlines() if line.startswith("│")]
    rows = {line.split("│")[1].strip(): line for line in table}
    assert {"dcgan", "wgan", "l1", "gray"} <= set(rows)  # one line per row: nothing folded onto a second
    assert "complete" in rows["dcgan"] and "baseline" in rows["gray"]


@pytest.mark.parametrize("args", [["budgets"], ["report", "--json"]], ids=["table", "json"])
def test_closed_pipe_ends_quietly_with_status_0(trained, args):
    results, _ = trained
    extra = ["--results", str(results)] if args[0] == "report" else []
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written, as `| head` after its lines
    try:
        proc = subprocess.run([sys.executable, "-m", "ganbench", *args, *extra], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, env=ENV, timeout=120)
    finally:
        os.close(write_end)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


# --- 4. values that make no sense: one line naming the key ---------------------------------------------

BAD_VALUES = [
    (["--set", "l1_weight=-1"], "l1_weight must be a finite number >= 0"),
    (["--set", "generator_optimizer.lr=nan"], "generator_optimizer.lr must be a finite number > 0"),
    (["--set", "critic_optimizer.lr=0"], "critic_optimizer.lr must be a finite number > 0"),
    (["--set", "critic_optimizer.lr=inf"], "critic_optimizer.lr must be a finite number > 0"),
    (["--set", "critic_optimizer.betas=[0.5, 1.0]"], "critic_optimizer.betas must be two numbers in [0, 1)"),
    (["--set", "generator_optimizer.eps=-1e-8"], "generator_optimizer.eps must be a finite number > 0"),
    (["--set", "generator_optimizer.weight_decay=-0.1"], "weight_decay must be a finite number >= 0"),
    (["--set", "loss=wasserstein-clip", "--set", "loss.clip=-0.01"], "clip must be a finite number > 0"),
    (["--set", "loss=wasserstein-clip", "--set", "loss.clip=nan"], "clip must be a finite number > 0"),
    (["--set", "loss=wasserstein-gp", "--set", "loss.weight=-10"], "weight must be a finite number >= 0"),
    (["--set", "generator.base_channels=0"], "base_channels"),
    (["--set", "critic.base_channels=-8"], "base_channels"),
    (["--ema", "1.5"], "--ema must be in [0, 1)"),
]


@pytest.mark.parametrize("extra,needle", BAD_VALUES, ids=[" ".join(e) for e, _ in BAD_VALUES])
def test_values_that_make_no_sense_are_one_line_naming_the_key(tmp_path, extra, needle):
    out = CliRunner().invoke(cli, ["run", "--models", "dcgan", "--budget", "smoke", *extra,
                                   "--results", str(tmp_path)])
    text = out.output.strip()
    # a value the plugin's own factory rejects is a plugin error naming the plugin (issue 17: exit 4); the
    # core's own checks are configuration errors (exit 2)
    assert out.exit_code == (4 if text.startswith("error: plugin ") else 2), text
    assert text.startswith("error:") and "\n" not in text and needle in text, text
    assert "image size" not in text
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_load_plugins_naming_no_installed_plugin_is_an_error():
    with pytest.raises(PluginError, match="GANBENCH_LOAD_PLUGINS names no installed plugin: nonexistent"):
        load_registry(env={"GANBENCH_LOAD_PLUGINS": "nonexistent"})
    with pytest.raises(PluginError, match="typo"):
        load_registry(env={"GANBENCH_LOAD_PLUGINS": "ganbench,typo"})
    assert load_registry(env={"GANBENCH_LOAD_PLUGINS": "losses,ganbench"}).names("loss")


def test_load_plugins_error_through_the_cli(monkeypatch):
    monkeypatch.setenv("GANBENCH_LOAD_PLUGINS", "nonexistent")
    out = CliRunner().invoke(cli, ["plugins"])
    assert out.exit_code == 4 and out.output.startswith("error: GANBENCH_LOAD_PLUGINS names no installed")


# --- 5. no fake Wasserstein estimate ---------------------------------------------------------------------

def test_wasserstein_estimate_is_empty_for_losses_without_one(trained):
    _, runs = trained
    bce = pd.read_csv(runs["dcgan"] / "history.csv")
    wgan = pd.read_csv(runs["wgan"] / "history.csv")
    none = pd.read_csv(runs["l1"] / "history.csv")
    assert bce["w_estimate"].isna().all() and bce["d_loss"].notna().all()
    assert wgan["w_estimate"].notna().all() and (wgan["w_estimate"] != 0).all()
    assert none[["d_loss", "d_reg", "w_estimate"]].isna().all().all() and none["g_l1"].notna().all()


# --- 6. run.json records what decides the kernels ------------------------------------------------------

def test_run_json_records_kernel_relevant_machine_facts(trained):
    _, runs = trained
    prov = json.loads((runs["dcgan"] / "run.json").read_text())["provenance"]
    assert prov["torch_version"] == torch.__version__ and prov["torch_threads"] == torch.get_num_threads()
    assert prov["torch_cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert isinstance(prov["cpu_kernel_flags"], list) and isinstance(prov["kernel_env"], dict)
    assert "onednn" in prov and "mkl" in prov and prov["torch_interop_threads"] >= 1


def test_cpu_flags_are_read_on_x86_and_arm(tmp_path):
    from ganbench.train.machine import cpu_flags

    x86 = tmp_path / "x86"
    x86.write_text("processor\t: 0\nmodel name\t: X\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16\n")
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd bf16 sve\n")
    assert {"avx512_bf16", "amx_bf16", "avx2"} <= cpu_flags(str(x86))
    assert {"asimd", "bf16", "sve"} <= cpu_flags(str(arm))
    assert cpu_flags(str(tmp_path / "missing")) == set()


@pytest.mark.parametrize("key", ["name", "kind"])
def test_a_part_option_named_like_the_registry_arguments_is_the_plugins_to_refuse(tmp_path, key):
    # --set generator.name=... once collided with Registry.create(kind, name, ...): a TypeError traceback
    out = CliRunner().invoke(cli, ["run", "--models", "dcgan", "--budget", "smoke,steps=1", "--results",
                                   str(tmp_path), "--set", f"generator.{key}=x"], env=ENV)
    assert out.exit_code == 4, out.output
    line = out.output.strip().splitlines()[-1]
    assert line.startswith("error: plugin unet: ") and "generator 'unet'" in line and f"'{key}'" in line
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
