"""Experiment trackers: what a run sends them and in which order, that a failing or hung tracker changes nothing
of the run (identical weights and metrics) and never stops it, that trackers are no part of a run's key, and the
built-in TensorBoard tracker's event file read back with TensorBoard's own reader."""

from __future__ import annotations

import csv
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from ganbench.api import Tracker, hookimpl
from ganbench.cli import cli
from ganbench.core.config import ConfigFile
from ganbench.core.request import RunRequest, run_request
from ganbench.grid.in_process import RunOutcome, run_comparison
from ganbench.store.results import safe_load
from ganbench.testing import plugin
from ganbench.track import TrackerSession

RUN = dict(models=["dcgan"], budget="smoke", device="cpu", seeds=[0])


class Recorder(Tracker):
    calls: list[tuple] = []

    def __init__(self, **context):
        Recorder.calls.append(("open", context))

    def log_hyperparams(self, params):
        Recorder.calls.append(("log_hyperparams", params))

    def log_metrics(self, step, scalars):
        Recorder.calls.append(("log_metrics", step, scalars))

    def log_image(self, step, name, image):
        Recorder.calls.append(("log_image", step, name, image))

    def log_final(self, metrics):
        Recorder.calls.append(("log_final", metrics))

    def finish(self, status):
        Recorder.calls.append(("finish", status))


class Broken(Tracker):
    """Raises in every call: the server is down, the disk is full."""

    calls = 0

    def _fail(self, *args):
        Broken.calls += 1
        raise OSError(28, "No space left on device")

    log_hyperparams = log_metrics = log_image = log_final = finish = _fail


def _unstartable(**context):
    raise ImportError("No module named 'nowhere'")


class Trackers:
    @hookimpl
    def register_trackers(self, register):
        register("recorder", Recorder)
        register("broken", lambda **context: Broken())
        register("unstartable", _unstartable)


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return safe_load(run / "generator.pt")


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path) as fh:
        return list(csv.DictReader(fh))


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _has_tensorboard() -> bool:
    return _installed("tensorboard")


#: the built-in trackers whose package is installed watch the same run (CI installs them all)
OPTIONAL = [name for name, module in (("tensorboard", "tensorboard"), ("mlflow", "mlflow"), ("wandb", "wandb"))
            if _installed(module)]


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WANDB_MODE", "offline")  # never the network
        mp.setenv("WANDB_SILENT", "true")
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)  # the default: a local store in the results folder
        yield mp


@pytest.fixture(scope="module")
def watched(tmp_path_factory, monkeypatch_module):
    """The same smoke run without trackers, and from the command line with TensorBoard (where installed), a
    recording, a raising and an unstartable tracker."""
    root = tmp_path_factory.mktemp("trackers")
    with plugin(Trackers()) as registry:
        [plain] = run_comparison(RunRequest(**RUN, results=root / "plain"), registry)
        Recorder.calls.clear()
        names = ["recorder", "broken", "unstartable", *OPTIONAL]
        out = CliRunner().invoke(cli, ["run", "--models", "dcgan", "--budget", "smoke", "--device", "cpu", "-q",
                                       "--results", str(root / "tracked"), *[f"--tracker={n}" for n in names]])
        assert out.exit_code == 0, out.output
        [tracked] = [p for p in (root / "tracked" / "runs").iterdir() if not p.name.startswith(".")]
        # trackers are no part of the key: the same run asked for again, with other trackers, is found complete
        [again] = run_comparison(RunRequest(**RUN, results=root / "tracked", trackers=["recorder"]), registry)
    messages = [line for line in out.output.splitlines() if line.startswith("warning")]
    return plain, RunOutcome("dcgan", 0, "complete", tracked), again, messages, list(Recorder.calls)


def test_failing_trackers_change_nothing_of_the_run(watched):
    plain, tracked, again, messages, _ = watched
    assert plain.status == tracked.status == "complete"
    a, b = _weights(plain.run_dir), _weights(tracked.run_dir)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads((plain.run_dir / "metrics.json").read_text()) == json.loads(
        (tracked.run_dir / "metrics.json").read_text())
    untimed = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert untimed(_rows(plain.run_dir / "history.csv")) == untimed(_rows(tracked.run_dir / "history.csv"))
    run_json = [json.loads((o.run_dir / "run.json").read_text()) for o in (plain, tracked)]
    assert run_json[0]["key"] == run_json[1]["key"] and "trackers" not in json.dumps(run_json[1]["config"])
    assert again.status == "skipped" and again.run_dir == tracked.run_dir


def test_a_failing_tracker_warns_once_and_is_switched_off(watched):
    _, _, _, messages, _ = watched
    warnings = [m for m in messages if m.startswith("warning: tracker")]
    assert len(warnings) == 2, messages
    broken = next(w for w in warnings if "'broken'" in w)
    assert "log_hyperparams failed" in broken and "OSError" in broken and "No space left on device" in broken
    assert Broken.calls == 2  # log_hyperparams, then finish("failed") as it is switched off: nothing more
    unstartable = next(w for w in warnings if "'unstartable'" in w)
    assert "could not start" in unstartable and "No module named 'nowhere'" in unstartable
    assert "\n" not in broken + unstartable


def test_a_tracker_gets_the_config_the_scalars_the_grids_and_the_final_metrics_in_order(watched):
    _, tracked, _, _, calls = watched
    run = tracked.run_dir
    kinds = [c[0] for c in calls]
    assert kinds[:2] == ["open", "log_hyperparams"] and kinds[-1] == "finish" and kinds.count("finish") == 1
    assert calls[-1] == ("finish", "complete") and kinds[-2] == "log_final"
    assert calls[0][1] == {"run_dir": run, "run_name": run.name, "results": run.parent.parent}
    params = calls[1][1]
    record = json.loads((run / "run.json").read_text())
    assert params["model"] == "dcgan" and params["recipe.loss"] == "bce" and params["run_key"] == record["key"]
    assert params["budget.image_size"] == record["config"]["budget"]["image_size"]
    assert params["recipe.generator_optimizer.lr"] == record["config"]["recipe"]["generator_optimizer"]["lr"]
    assert all(isinstance(v, (str, int, float, bool)) for v in params.values())

    metrics = [c for c in calls if c[0] == "log_metrics"]
    steps = [c for c in metrics if "loss/g_l1" in c[2]]
    history = _rows(run / "history.csv")
    assert [c[1] for c in steps] == [int(r["step"]) for r in history]
    for call, row in zip(steps, history, strict=True):
        assert call[2]["loss/g_l1"] == pytest.approx(float(row["g_l1"]), rel=1e-6)
        assert call[2]["loss/d_loss"] == pytest.approx(float(row["d_loss"]), rel=1e-6)
        assert "critic/w_estimate" not in call[2]  # BCE has no distance estimate: absent, not 0
        assert call[2]["lr/generator"] > 0 and call[2]["lr/critic"] > 0
    assert steps[-1][2]["lr/generator"] < steps[0][2]["lr/generator"]  # the decay over the budget's second half
    vals = [c for c in metrics if "val/psnr" in c[2]]
    validation = _rows(run / "validation.csv")
    assert [c[1] for c in vals] == [int(r["step"]) for r in validation]
    assert vals[-1][2]["val/psnr"] == pytest.approx(float(validation[-1]["val_psnr"]), rel=1e-6)

    images = [c for c in calls if c[0] == "log_image"]
    grids = [c for c in images if c[2] == "samples/validation"]
    assert [c[1] for c in grids] == [int(r["step"]) for r in validation]
    assert all(c[3].dtype == np.uint8 and c[3].ndim == 3 and c[3].shape[2] == 3 for c in images)
    [test] = [c for c in images if c[2] == "samples/test"]
    from PIL import Image

    assert np.array_equal(test[3], np.asarray(Image.open(run / "samples.png").convert("RGB")))

    final = calls[-2][1]
    stored = json.loads((run / "metrics.json").read_text())
    for row in ("model", "last", "gray"):
        for name, value in stored[row].items():
            assert final[f"test/{row}/{name}"] == pytest.approx(value)
    assert final["test/truth/colorfulness"] == pytest.approx(stored["truth"]["colorfulness"])
    assert final["test/best_step"] == stored["best_step"]


class Hung(Tracker):
    def __init__(self, release: threading.Event) -> None:
        self.release = release

    def log_metrics(self, step, scalars):
        self.release.wait()


def test_a_hung_tracker_never_makes_the_run_wait(tmp_path):
    release = threading.Event()

    class HungPlugin:
        @hookimpl
        def register_trackers(self, register):
            register("hung", lambda **context: Hung(release))

    with plugin(HungPlugin()) as registry:
        session = TrackerSession(registry, ["hung"], tmp_path, "run", tmp_path, timeout_s=0.3)
        t0 = time.perf_counter()
        for step in range(1000):
            session.log_metrics(step, {"loss/g_l1": 1.0})
        assert time.perf_counter() - t0 < 0.5  # handed over, not waited for
        t0 = time.perf_counter()
        warnings = session.finish("complete")
        assert time.perf_counter() - t0 < 2.0
    release.set()
    assert warnings == ["warning: tracker 'hung' still busy 0 s after the run ended; left behind"]


def test_trackers_from_the_command_line_and_the_config_file():
    flags = {"models": "dcgan"}
    request, _ = run_request({**flags, "trackers": ("tensorboard", "mlflow")}, ConfigFile())
    assert request.trackers == ["tensorboard", "mlflow"]
    request, _ = run_request(flags, ConfigFile(run={"trackers": ["wandb"]}))
    assert request.trackers == ["wandb"]
    request, _ = run_request({**flags, "trackers": ("tensorboard",)}, ConfigFile(run={"trackers": ["wandb"]}))
    assert request.trackers == ["tensorboard"]  # the flag wins


def test_an_unknown_tracker_is_one_line_before_anything_trains(tmp_path):
    out = CliRunner().invoke(cli, ["run", "--models", "dcgan", "--budget", "smoke", "--results", str(tmp_path),
                                   "--tracker", "tensorbord"])
    assert out.exit_code == 2
    assert out.output.strip().splitlines() == [
        "error: unknown tracker 'tensorbord'. Did you mean 'tensorboard'? Known trackers: " + ", ".join(
            sorted(__import__("ganbench.core.registry").core.registry.load_registry().names("tracker"))) + "."]
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


# --- the built-in TensorBoard tracker ------------------------------------------------------------------


def test_tensorboard_event_file_of_a_smoke_run(watched):
    """`ganbench run --models dcgan --budget smoke --tracker tensorboard` (beside the other trackers above)."""
    if not _has_tensorboard():
        pytest.skip("the tensorboard extra is not installed (pip install 'ganbench[tensorboard]')")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    run = watched[1].run_dir
    assert not [m for m in watched[3] if "'tensorboard'" in m]
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    events.Reload()
    tags = events.Tags()

    history = _rows(run / "history.csv")
    g_l1 = events.Scalars("loss/g_l1")
    assert [e.step for e in g_l1] == [int(r["step"]) for r in history]
    assert [e.value for e in g_l1] == pytest.approx([float(r["g_l1"]) for r in history], rel=1e-6)
    assert {"loss/d_loss", "lr/generator", "lr/critic", "throughput/images_per_s", "val/psnr"} <= set(tags["scalars"])
    validation = _rows(run / "validation.csv")
    assert [e.value for e in events.Scalars("val/psnr")] == pytest.approx(
        [float(r["val_psnr"]) for r in validation], rel=1e-6)
    stored = json.loads((run / "metrics.json").read_text())
    assert events.Scalars("test/model/psnr")[-1].value == pytest.approx(stored["model"]["psnr"], rel=1e-6)
    assert events.Scalars("test/gray/psnr")[-1].value == pytest.approx(stored["gray"]["psnr"], rel=1e-6)

    from PIL import Image

    assert {"samples/validation", "samples/test"} <= set(tags["images"])
    [test_image] = events.Images("samples/test")
    with Image.open(run / "samples.png") as png:
        assert (test_image.width, test_image.height) == png.size
    assert len(events.Images("samples/validation")) == len(validation)

    content = events.PluginTagToContent("hparams")
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    assert {m.name.tag for m in experiment.metric_infos} >= {"test/model/psnr", "test/gray/psnr"}
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"]).session_start_info
    assert start.hparams["model"].string_value == "dcgan"
    assert start.hparams["recipe.loss"].string_value == "bce"
    assert start.hparams["budget.image_size"].number_value == json.loads(
        (run / "run.json").read_text())["config"]["budget"]["image_size"]


# --- MLflow and Weights & Biases, written by the same run -----------------------------------------------


def test_the_mlflow_store_of_the_same_run(watched):
    if "mlflow" not in OPTIONAL:
        pytest.skip("the mlflow extra is not installed (pip install 'ganbench[mlflow]')")
    from mlflow.tracking import MlflowClient

    _, tracked, _, messages, _ = watched
    run_dir = tracked.run_dir
    assert not [m for m in messages if "'mlflow'" in m]
    client = MlflowClient(tracking_uri=(run_dir.parent.parent / "mlruns").as_uri())
    [run] = client.search_runs([client.get_experiment_by_name("ganbench").experiment_id])
    assert run.info.run_name == run_dir.name and run.info.status == "FINISHED"
    assert run.data.tags["ganbench.status"] == "complete" and run.data.tags["ganbench.run_dir"] == str(run_dir)
    record = json.loads((run_dir / "run.json").read_text())
    assert run.data.params["model"] == "dcgan" and run.data.params["run_key"] == record["key"]
    history = _rows(run_dir / "history.csv")
    g_l1 = sorted(client.get_metric_history(run.info.run_id, "loss/g_l1"), key=lambda m: m.step)
    assert [(m.step, m.value) for m in g_l1] == [(int(r["step"]), pytest.approx(float(r["g_l1"]))) for r in history]
    stored = json.loads((run_dir / "metrics.json").read_text())
    assert run.data.metrics["test/model/psnr"] == pytest.approx(stored["model"]["psnr"])
    assert run.data.metrics["test/gray/psnr"] == pytest.approx(stored["gray"]["psnr"])
    artifacts = [a.path for a in client.list_artifacts(run.info.run_id, "samples/test")]
    assert len(artifacts) == 1 and artifacts[0].endswith(".png")


def _wandb_records(path: Path):
    """The records of a W&B offline run file (a LevelDB-style log of protobuf records after a 7-byte header),
    read without the wandb service."""
    import struct

    from wandb.proto import wandb_internal_pb2 as pb

    data, pos, buf, block = path.read_bytes(), 7, b"", 32768
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if length == 0 and kind == 0:
            pos += left
            continue
        chunk, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
        buf = chunk if kind in (1, 2) else buf + chunk
        if kind in (1, 4):
            record = pb.Record()
            record.ParseFromString(buf)
            yield record


def test_the_wandb_offline_directory_of_the_same_run(watched):
    if "wandb" not in OPTIONAL:
        pytest.skip("the wandb extra is not installed (pip install 'ganbench[wandb]')")
    _, tracked, _, messages, _ = watched
    run_dir = tracked.run_dir
    assert not [m for m in messages if "'wandb'" in m]
    [offline] = list((run_dir.parent.parent / "wandb").glob("offline-run-*"))
    [log] = list(offline.glob("run-*.wandb"))
    logged, config, summary = [], {}, {}
    for record in _wandb_records(log):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            items = {"/".join(i.nested_key) or i.key: json.loads(i.value_json) for i in record.history.item}
            if "loss/g_l1" in items:
                logged.append((items["step"], items["loss/g_l1"]))
        elif kind == "summary":
            summary.update({"/".join(i.nested_key) or i.key: i.value_json for i in record.summary.update})
        elif kind in ("config", "run"):
            updates = record.config.update if kind == "config" else record.run.config.update
            config.update({"/".join(i.nested_key) or i.key: i.value_json for i in updates})
    history = _rows(run_dir / "history.csv")
    assert logged == [(int(r["step"]), pytest.approx(float(r["g_l1"]))) for r in history]
    stored = json.loads((run_dir / "metrics.json").read_text())
    assert json.loads(summary["test/model/psnr"]) == pytest.approx(stored["model"]["psnr"])
    assert json.loads(summary["ganbench.status"]) == "complete"
    assert json.loads(config["model"]) in ("dcgan", {"value": "dcgan"})
    assert list((offline / "files" / "media" / "images").rglob("*.png"))
