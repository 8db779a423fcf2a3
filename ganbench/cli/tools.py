"""The commands beside the main flow: ``plugins``, ``budgets``, ``evaluate``, ``bench``, ``colorize``, ``data info``."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from ganbench.cli import cli, plugin_registry
from ganbench.cli.options import dataset_options
from ganbench.core.errors import ConfigError
from ganbench.report.console import RichReporter, StdoutConsole, print_scored, stderr
from ganbench.store.results import json_text


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins(as_json):
    """List loaded plugins, their versions and what each registers (with its description), and check that
    every registered model's recipe names a generator, critic and loss that is loaded (exit 4 if not)."""
    from ganbench.core.config import check_models
    from ganbench.core.errors import PluginError

    registry = plugin_registry()
    infos = [{"name": p.name, "version": p.version, "distribution": p.distribution, "registers": p.registers,
              "descriptions": {kind: {n: registry.get(kind, n).meta.get("description", "") for n in names}
                               for kind, names in p.registers.items()}}
             for p in registry.plugins.values()]
    problems = check_models(registry)
    if as_json:
        click.echo(json_text(infos))
    else:
        table = Table(title="ganbench plugins")
        for col in ("plugin", "distribution", "version", "registers"):
            table.add_column(col)
        for p in infos:
            regs = "\n".join(f"{kind}: {n}" + (f" — {d}" if (d := p["descriptions"][kind][n]) else "")
                              for kind, names in p["registers"].items() for n in names) or "(nothing)"
            table.add_row(p["name"], p["distribution"], p["version"], regs)
        StdoutConsole().print(table)
    if problems:
        raise PluginError(f"{len(problems)} recipe(s) cannot run: " + "; ".join(problems))

@cli.command()
@click.option("--json", "as_json", is_flag=True)
def budgets(as_json):
    """The named training budgets."""
    from ganbench.core.budgets import BUDGETS, describe

    if as_json:
        click.echo(json_text([b.to_dict() for b in BUDGETS.values()]))
        return
    table = Table(title="budgets (same for every model of a comparison)")
    for col in ("name", "image size", "batch", "length", "network hints", "eval every", "what for"):
        table.add_column(col)
    for b in BUDGETS.values():
        net = ", ".join(f"{n[0].upper()}: " + " ".join(f"{k} {v}" for k, v in h.items()) for n, h in b.hints.items())
        table.add_row(b.name, str(b.image_size), str(b.batch_size), describe(b), net, str(b.eval_every),
                      b.description)
    StdoutConsole().print(table)

@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@dataset_options
@click.option("--image-size", type=int, default=None)
@click.option("--device", default="auto")
@click.option("--json", "as_json", is_flag=True)
def evaluate(run_dir, dataset, image_size, device, as_json, **dataset_flags):
    """Re-score a trained run: its own test split, or every usable photo of a dataset you name
    (--dataset folder --data-root DIR); the model's and the gray baseline's metrics."""
    from ganbench.core.request import dataset_options as given_dataset_options
    from ganbench.data import pipeline
    from ganbench.tools.evaluate import evaluate_run

    opts = given_dataset_options(**dataset_flags)
    if opts and not dataset:
        raise ConfigError("--data-root, --test-root, --limit, --split and --small/--large describe the dataset "
                          "named with --dataset (e.g. --dataset folder --data-root DIR); without --dataset the "
                          "run's own test split is scored")
    result = evaluate_run(run_dir, plugin_registry(), dataset, opts if dataset else None, image_size, device,
                          RichReporter(), cache_dir=pipeline.default_cache_dir())
    if as_json:
        click.echo(json_text(result))
        return
    table = Table(title=f"{result['model']} on {result['description']} ({result['n_test_images']} crops)")
    table.add_column("row")
    names = list(result["scores"])
    for n in names:
        table.add_column(n, justify="right")
    table.add_row(result["model"], *[f"{result['scores'][n]:.3f}" for n in names])
    table.add_row("gray", *[f"{result['gray'][n]:.3f}" for n in names])
    StdoutConsole().print(table)
    print_scored(result)

@cli.command()
@click.option("--models", "-m", default="dcgan,wgan,wgan-gp", show_default=True)
@click.option("--image-size", type=int, default=None, help="Default: the budget's.")
@click.option("--batch-size", type=int, default=None, help="Default: the budget's.")
@click.option("--steps", type=click.IntRange(min=1), default=10, show_default=True, help="Timed steps.")
@click.option("--warmup", type=click.IntRange(min=0), default=3, show_default=True)
@click.option("--device", default="auto")
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16", "auto"]), default=None,
              help="Default: bf16 on CUDA, fp32 on a CPU; auto: a probe timed now.")
@click.option("--compile/--no-compile", "compile_", default=False)
@click.option("--channels-last/--no-channels-last", "channels_last", default=None,
              help="NHWC activations (default: on CUDA, off on the CPU).")
@click.option("--budget", default="cpu", help="Budget whose image size, batch size and network sizes to use "
              "(cpu, seed, gpu, smoke, or --budget text such as cpu,batch=8).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE")
@click.option("--with-data", is_flag=True, help="Also time the steps fed by the real input pipeline (real photos, "
                                                 "data workers as a run has them), beside the in-memory steps.")
@click.option("--data-workers", default=None, metavar="N|auto", help="With --with-data: data worker processes.")
@click.option("--json", "as_json", is_flag=True)
def bench(models, image_size, batch_size, steps, warmup, device, precision, compile_, channels_last, budget, sets,
          with_data, data_workers, as_json):
    """Training throughput per recipe with batches already in memory: images/s, step time, FLOPs per image,
    achieved FLOP/s as a share of the device's bf16 dense peak (a GPU's datasheet value; on a CPU with native
    bf16 its bf16 matrix product, measured in a few seconds in the same run; none where bf16 is emulated), the
    data pipeline's own images/s, peak memory. Image size and batch: the budget's unless given."""
    from ganbench.core.config import parse_sets
    from ganbench.core.request import split_list
    from ganbench.train.bench import bench_model

    registry = plugin_registry()
    if batch_size is not None and batch_size < 1:
        raise ConfigError(f"batch size must be >= 1, got {batch_size}")
    if image_size is not None and image_size < 1:
        raise ConfigError(f"image size must be >= 1, got {image_size}")
    overrides = parse_sets(sets)
    if data_workers is not None:
        from ganbench.data.loader import set_data_workers

        set_data_workers(data_workers)
    rows = [bench_model(registry, m, image_size=image_size, batch_size=batch_size, steps=steps, warmup=warmup,
                        device=device, precision=precision, compile=compile_, sets=overrides, budget=budget,
                        channels_last=channels_last, with_data=with_data)
            for m in split_list(models)]
    if as_json:
        click.echo(json_text(rows))
        return
    first = rows[0]
    table = Table(title=f"training step, {first['image_size']}px, batch {first['batch_size']}, {first['device']} "
                        f"({rows[0]['precision']}{', compiled' if compile_ else ''})")
    for col in ("model", "images/s", "step ms", "G steps/s", "GFLOP/image", "TFLOP/s", "% of peak",
                "data images/s", "peak MB"):
        table.add_column(col, justify="right")
    for r in rows:
        peak = r.get("peak_cuda_mb") or r["peak_cpu_rss_mb"]
        share = r.get("achieved_share_of_peak")
        table.add_row(r["model"], f"{r['images_per_s']:.1f}", f"{r['step_ms']:.1f}",
                      f"{r['generator_steps_per_s']:.2f}",
                      f"{(r['flops_per_image'] or 0) / 1e9:.2f}", f"{r.get('achieved_tflops') or 0:.3f}",
                      "—" if share is None else f"{100 * share:.1f}", f"{r.get('data_images_per_s') or 0:.0f}",
                      f"{peak:.0f}")
    peak_note = rows[0].get("peak_bf16_tflops")
    if peak_note:
        table.caption = f"bf16 dense peak {peak_note:.2f} TFLOP/s ({rows[0].get('peak_source')})"
    elif rows[0].get("peak_source"):
        table.caption = f"no share of peak: {rows[0]['peak_source']}"
    StdoutConsole().print(table)
    if with_data:
        fed = Table(title=f"steps fed by the real pipeline (real photos, {rows[0]['data_workers']} data workers)")
        for col in ("model", "in-memory images/s", "data alone images/s", "1/(1/step+1/data)", "fed images/s",
                    "waiting for data"):
            fed.add_column(col, justify="right")
        for r in rows:
            fed.add_row(r["model"], f"{r['images_per_s']:.1f}", f"{r['data_images_per_s']:.0f}",
                        f"{r['serial_images_per_s']:.1f}", f"{r['e2e_images_per_s']:.1f}",
                        f"{100 * r['data_share']:.0f}%")
        fed.caption = ("fed: the steps timed end to end on batches from the pipeline; 1/(1/step+1/data): what "
                       "building batches in the training process costs (0 workers)")
        StdoutConsole().print(fed)

@cli.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--run", "run_dir", type=click.Path(path_type=Path), default=None, help="A trained run folder.")
@click.option("--checkpoint", type=click.Path(path_type=Path), default=None,
              help="A generator .pt inside a run folder (e.g. generator_last.pt).")
@click.option("-o", "--out", "out_dir", type=click.Path(path_type=Path), required=True)
@click.option("--format", "ext", default=None, help="Output extension (.png, .jpg); default: the input's.")
@click.option("--compare", is_flag=True, help="Write input | output side by side.")
@click.option("--device", default="auto")
@click.option("--batch-size", type=int, default=8, show_default=True, help="Photos per generator batch.")
@click.option("--quiet", "-q", is_flag=True)
def colorize(inputs, run_dir, checkpoint, out_dir, ext, compare, device, batch_size, quiet):
    """Colourize image files and folders with a trained generator, at full resolution."""
    from ganbench.tools.colorize import colorize_files, iter_inputs, load_generator
    from ganbench.train.precision import resolve_device

    dev = resolve_device(device)
    generator, cfg = load_generator(plugin_registry(), run_dir, checkpoint, dev)
    files, _ = iter_inputs(inputs)
    progress = Progress(TextColumn("colorize"), BarColumn(), MofNCompleteColumn(), console=stderr,
                        disable=quiet)
    with progress:
        task = progress.add_task("colorize", total=len(files))
        result = colorize_files(generator, cfg, inputs, out_dir, dev, ext=ext, compare=compare,
                                on_file=lambda p: progress.advance(task), batch_size=batch_size)
    for path, reason in result.failed:
        click.echo(f"warning: skipped {path}: {reason}", err=True)
    click.echo(f"{len(result.written)} image(s) written to {out_dir}" +
               (f", {len(result.failed)} failed" if result.failed else ""), err=True)
    if result.failed:
        sys.exit(3)

@cli.group()
def data() -> None:
    """Inspect datasets."""

@data.command("info")
@dataset_options
@click.option("--image-size", type=int, default=64, show_default=True)
@click.option("--cache-dir", type=click.Path(path_type=Path), default=None)
@click.option("--json", "as_json", is_flag=True)
def data_info(dataset, image_size, cache_dir, as_json, **dataset_flags):
    """Counts, skipped files with reasons, image sizes, and decode / cached-read throughput."""
    from ganbench.core.request import dataset_options as given_dataset_options
    from ganbench.data import pipeline
    from ganbench.tools.datainfo import dataset_info

    options = given_dataset_options(**dataset_flags)
    info = dataset_info(plugin_registry(), dataset or "embedded", options, image_size,
                        cache_dir or pipeline.default_cache_dir())
    if as_json:
        click.echo(json_text(info))
        return
    console = StdoutConsole()
    console.print(f"[bold]{info['description']}[/]")
    for split_name, n in info["counts"].items():
        console.print(f"  {split_name}: {n} images")
    s = info["sizes"]
    if s:
        console.print(f"  original sizes: short side {s['short_min']}–{s['short_max']} px "
                      f"(median {s['short_median']}), long side up to {s['long_max']} px")
    console.print(f"  decode + resize: {info['decode_images_per_s']:.1f} images/s (cold); "
                  f"cached reads: {info['cached_images_per_s']:.1f} images/s")
    if info["skipped"]:
        console.print(f"  skipped {len(info['skipped'])}:")
        for item in info["skipped"]:
            console.print(f"    {item['file']}: {item['reason']}", highlight=False)


@data.command("bench")
@dataset_options
@click.option("--image-size", "sizes", default="64,256", show_default=True, help="Training sizes, comma-separated.")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--workers", default=None, help="Worker counts to time beside 0 (in-process), e.g. 1,2 "
                                               "(default: 1 and every core).")
@click.option("--seconds", type=float, default=2.0, show_default=True, help="Timing per row.")
@click.option("--cache-dir", type=click.Path(path_type=Path), default=None)
@click.option("--json", "as_json", is_flag=True)
def data_bench_command(dataset, sizes, batch_size, workers, seconds, cache_dir, as_json, **dataset_flags):
    """Training batches per second from the dataset's photos: images/s per worker and in total at each size,
    and what one worker's rate at the largest size means for a 16-core GPU host against 2,500 images/s."""
    from ganbench.core.request import dataset_options as given_dataset_options
    from ganbench.core.request import split_list
    from ganbench.data import pipeline
    from ganbench.tools.databench import data_bench

    try:
        size_list = [int(v) for v in split_list(sizes) or []]
        worker_list = [int(v) for v in split_list(workers)] if workers else None
    except ValueError:
        raise ConfigError(f"--image-size and --workers take comma-separated counts, got {sizes!r}, "
                          f"{workers!r}") from None
    if any(v < 8 for v in size_list) or any(v < 1 for v in worker_list or []):
        raise ConfigError("--image-size values must be >= 8 and --workers counts >= 1")
    options = given_dataset_options(**dataset_flags)
    result = data_bench(plugin_registry(), dataset or "embedded", options, size_list, batch_size, worker_list,
                        seconds, cache_dir or pipeline.default_cache_dir())
    if as_json:
        click.echo(json_text(result))
        return
    table = Table(title=f"training batches from {dataset or 'embedded'} (batch {batch_size}, {result['cores']} "
                        "cores here)")
    for col in ("size", "workers", "images/s", "images/s per worker"):
        table.add_column(col, justify="right")
    for r in result["rows"]:
        table.add_row(f"{r['image_size']}²", "0 (in process)" if r["workers"] == 0 else str(r["workers"]),
                      f"{r['images_per_s']:.0f}", f"{r['images_per_s_per_worker']:.0f}")
    p = result["projection"]
    table.caption = (f"at {p['image_size']}²: {p['per_worker']:.0f} images/s per worker -> {p['workers']} workers "
                     f"of a {p['cores']}-core host: ~{p['images_per_s']:.0f} images/s (linear, an upper bound) "
                     f"against {p['target']:.0f}; {p['workers_needed']:.0f} workers needed")
    StdoutConsole().print(table)
