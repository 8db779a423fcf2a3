"""`ganbench bench`'s peak: bounded in time whatever the kernel, skipped where bf16 is emulated, and a share of
it never above 100 %."""

from __future__ import annotations

import pytest
import torch

from ganbench.train import bench


def test_a_slow_matmul_is_timed_at_a_small_size(monkeypatch):
    """A product as slow as emulated bf16 on an AVX2-only EPYC (0.2 GFLOP/s): the peak is measured at a size
    where one product takes at most a tenth of the bound, never at 2048² (86 s a product there)."""
    clock = [0.0]
    sizes: list[int] = []

    def slow_mm(a, b):
        sizes.append(a.shape[0])
        clock[0] += 2 * a.shape[0] ** 3 / 0.2e9
        return a

    monkeypatch.setattr(bench.torch, "mm", slow_mm)
    monkeypatch.setattr(bench.time, "perf_counter", lambda: clock[0])
    rate = bench.matmul_peak("cpu", torch.bfloat16, n=2048, seconds=0.5, max_seconds=4.0)
    assert rate == pytest.approx(0.2e9)
    assert max(sizes) == 256  # 0.17 s a product; 512² would take 1.3 s, 2048² 86 s
    assert clock[0] < 2.0  # the whole measurement, warm-ups included


def test_a_fast_matmul_climbs_to_the_full_size(monkeypatch):
    clock = [0.0]
    sizes: list[int] = []

    def fast_mm(a, b):
        sizes.append(a.shape[0])
        clock[0] += 2 * a.shape[0] ** 3 / 1e12
        return a

    monkeypatch.setattr(bench.torch, "mm", fast_mm)
    monkeypatch.setattr(bench.time, "perf_counter", lambda: clock[0])
    assert bench.matmul_peak("cpu", torch.float32, n=2048, seconds=0.01) == pytest.approx(1e12)
    assert max(sizes) == 2048


def test_no_peak_where_bf16_is_emulated(monkeypatch):
    monkeypatch.setattr(bench, "cpu_has_native_bf16", lambda: False)
    monkeypatch.setattr(bench, "matmul_peak", lambda *a, **k: (_ for _ in ()).throw(AssertionError("timed")))
    bench.bf16_peak.cache_clear()
    try:
        peak, source = bench.bf16_peak("cpu")
    finally:
        bench.bf16_peak.cache_clear()
    assert peak is None and "emulated" in source


def test_a_share_of_peak_is_never_above_one():
    assert bench.share_of_peak(5e9, 10e9) == 0.5
    assert bench.share_of_peak(10e9, 10e9) == 1.0
    assert bench.share_of_peak(11e9, 10e9) is None  # a peak measured below the step's own rate is no peak


def test_bench_takes_the_budgets_size_and_batch(registry, monkeypatch):
    monkeypatch.setattr(bench, "cpu_has_native_bf16", lambda: False)
    bench.bf16_peak.cache_clear()
    try:
        row = bench.bench_model(registry, "dcgan", steps=1, warmup=0, device="cpu", budget="smoke",
                                data_seconds=0)
        custom = bench.bench_model(registry, "dcgan", steps=1, warmup=0, device="cpu", budget="smoke,batch=2",
                                   image_size=64, data_seconds=0)
    finally:
        bench.bf16_peak.cache_clear()
    assert (row["image_size"], row["batch_size"], row["precision"]) == (32, 4, "fp32")
    assert (custom["image_size"], custom["batch_size"]) == (64, 2)
    assert "achieved_share_of_peak" not in row and "emulated" in row["peak_source"]
