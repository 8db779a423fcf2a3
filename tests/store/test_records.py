"""run.json and metrics.json as typed records: the files keep their format, older files still load and report."""

from __future__ import annotations

import json

import pytest

from ganbench.store.records import MetricsRecord, RunRecord, RunStatus
from ganbench.store.results import RunDir, atomic_write_json, create_run

#: A run.json as ``ganbench run`` writes it today (values shortened), with a key this ganbench does not know.
RUN_JSON = {
    "schema_version": 1, "status": "complete", "key": "abc123", "comparison": "cmp1",
    "command": "ganbench run --models dcgan", "dataset_description": "embedded photos (7)",
    "identity": {"recipe_hash": "h1", "loss": "bce: ganbench 0.1.0"},
    "config": {"model": "dcgan", "seed": 2, "dataset": "embedded", "device": "cpu", "precision": "fp32",
               "budget": {"name": "smoke", "image_size": 32}, "recipe": {"loss": "bce", "generator": "unet"}},
    "scoring": {"psnr": "ganbench 0.1.0"}, "provenance": {"torch_version": "2.13.0"},
    "budget": {"name": "smoke", "image_size": 32, "total_steps": 4},
    "data": {"train_images": 5, "val_crops": 2, "test_crops": 4, "skipped": []},
    "spent": {"generator_steps": 4, "critic_steps": 4, "images": 64},
    "throughput": {"images_per_s": 12.5, "peak_cpu_rss_mb": 300.0, "generator_steps_per_s": 0.8},
    "set_level": {}, "resumed": 1, "finished": "2026-01-01T00:00:00Z",
    "written_by_a_newer_ganbench": {"kept": True},
}

METRICS_JSON = {
    "selected": "best", "selection_rule": "highest validation PSNR", "best_step": 3, "best_meets_floor": True,
    "model": {"psnr": 20.5, "mae": 10.0, "ssim": None, "ssim_null_reason": "not a number (NaN): ..."},
    "last": {"psnr": 20.1}, "best": {"psnr": 20.5}, "gray": {"psnr": 19.0}, "truth": {"colorfulness": 30.0},
    "n_test_images": 4, "set_level": {}, "metrics": {"psnr": {"higher_is_better": True, "unit": "dB"}},
    "adversary": {"adv_to_l1_grad_median": 0.2},
}


def test_a_run_record_round_trips_with_the_same_json():
    record = RunRecord.from_json(json.loads(json.dumps(RUN_JSON)))
    assert record.to_json() == {k: v for k, v in RUN_JSON.items() if v != {}}  # an empty optional is left out
    assert RunRecord.from_json(record.to_json()) == record
    assert record.status is RunStatus.COMPLETE and record.complete
    assert (record.model, record.seed, record.dataset, record.device) == ("dcgan", 2, "embedded", "cpu")
    assert record.images_per_s == 12.5 and record.peak_mem_mb == 300.0 and record.images_seen == 64
    assert record.train_images == 5 and record.uses_critic and record.resumed == 1
    assert record.extra == {"written_by_a_newer_ganbench": {"kept": True}}


def test_a_metrics_record_round_trips_and_reads_scores():
    metrics = MetricsRecord.from_json(json.loads(json.dumps(METRICS_JSON)))
    assert metrics.to_json() == {k: v for k, v in METRICS_JSON.items() if v != {}}
    assert MetricsRecord.from_json(metrics.to_json()) == metrics
    assert metrics.score("model", "psnr") == 20.5
    assert metrics.score("model", "ssim") is None  # written as null (not finite)
    assert metrics.scores("model") == {"psnr": 20.5, "mae": 10.0}  # the null and its reason left out
    assert metrics.selected == "best" and metrics.best_step == 3


def test_an_old_record_without_the_newer_keys_loads_with_defaults():
    old_run = {"schema_version": 1, "status": "complete", "config": {"model": "wgan", "seed": 0}}
    record = RunRecord.from_json(old_run)
    assert record.identity == {} and record.scoring == {} and record.throughput == {}
    assert record.images_per_s is None and record.peak_mem_mb is None and record.divergence is None
    assert record.key == "" and record.resumed == 0 and record.error is None
    # rewriting it adds only the keys every run.json has, empty; nothing it never had a value for
    assert record.to_json() == {**old_run, "key": "", "comparison": "", "command": None, "dataset_description": ""}
    old_metrics = MetricsRecord.from_json({"model": {"psnr": 18.0}, "gray": {"psnr": 17.0}})
    assert old_metrics.selected == "last" and old_metrics.truth == {} and old_metrics.metrics == {}
    assert old_metrics.adversary is None and old_metrics.score("truth", "psnr") is None


def test_a_foreign_status_is_kept_as_written():
    record = RunRecord.from_json({"status": "paused-by-a-plugin", "config": {}})
    assert record.status == "paused-by-a-plugin" and not record.complete
    assert RunRecord.from_json({"config": {}}).status == "unknown"


def test_the_run_folder_reads_and_writes_typed_records(tmp_path):
    run = create_run(tmp_path, "dcgan", 0, RunRecord(key="k1", config={"model": "dcgan", "seed": 0}))
    try:
        on_disk = json.loads(run.record_path.read_text())
        assert on_disk == {"schema_version": 1, "status": "running", "key": "k1", "comparison": "", "command": None,
                           "dataset_description": "", "config": {"model": "dcgan", "seed": 0}}
        run.update_record(status="diverged", divergence={"step": 3, "losses": ["d_loss"]}, note="kept")
        record = run.record()
        assert record.status is RunStatus.DIVERGED and record.divergence == {"step": 3, "losses": ["d_loss"]}
        assert record.extra == {"note": "kept"}
        run.write_metrics(MetricsRecord.from_json(METRICS_JSON))
        assert run.metrics().score("gray", "psnr") == 19.0
    finally:
        run.unlock()


def _old_run(results, name, model, seed, psnr, gray):
    """A complete run folder as an older ganbench wrote it: no identity, scoring, throughput, metric
    descriptions, last/best generator or set-level keys."""
    folder = results / "runs" / name
    folder.mkdir(parents=True)
    atomic_write_json(folder / "run.json", {
        "schema_version": 1, "status": "complete", "comparison": "old", "key": f"k-{model}-{seed}",
        "config": {"model": model, "seed": seed, "dataset": "embedded", "device": "cpu", "precision": "fp32",
                   "budget": {"name": "smoke", "image_size": 32, "batch_size": 4}, "metrics": ["psnr"],
                   "recipe": {"generator": "unet", "critic": "patchgan", "loss": "bce", "n_critic": 1}},
        "budget": {"name": "smoke", "image_size": 32, "batch_size": 4}})
    atomic_write_json(folder / "metrics.json", {"model": {"psnr": float(sum(psnr) / len(psnr))},
                                                "gray": {"psnr": float(sum(gray) / len(gray))}})
    rows = "\n".join(f"p{i}.png,{m},{g}" for i, (m, g) in enumerate(zip(psnr, gray, strict=True)))
    (folder / "per_image.csv").write_text("image,model_psnr,gray_psnr\n" + rows + "\n")
    return RunDir(folder)


def test_the_report_reads_a_results_folder_of_older_records(tmp_path):
    from ganbench.report.comparison import load_comparisons
    from ganbench.report.tables import display_table

    _old_run(tmp_path, "20250101-000000-dcgan-s0-aaaaaa", "dcgan", 0, [21.0, 22.0, 23.0], [19.0, 20.0, 21.0])
    _old_run(tmp_path, "20250101-000001-wgan-s0-bbbbbb", "wgan", 0, [18.0, 19.0, 20.0], [19.0, 20.0, 21.0])
    (comp,), notes = load_comparisons(tmp_path)
    assert notes == []
    assert isinstance(comp.runs[0].record, RunRecord) and isinstance(comp.runs[0].metrics, MetricsRecord)
    table = comp.table.set_index("model")
    assert table.loc["dcgan", "psnr"] == pytest.approx(22.0)
    assert table.loc["gray", "psnr"] == pytest.approx(20.0)
    assert table.loc["dcgan", "images_per_s"] != table.loc["dcgan", "images_per_s"]  # not recorded: NaN, no error
    assert "dcgan" in display_table(comp).to_string()
