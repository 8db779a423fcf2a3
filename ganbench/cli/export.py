"""``ganbench export``: a trained generator out of ganbench (``export model``) and stored runs into TensorBoard
(``export tensorboard``)."""

from __future__ import annotations

from pathlib import Path

import click

from ganbench.cli import cli, plugin_registry
from ganbench.report.console import stderr


@cli.group()
def export() -> None:
    """Take a trained generator or stored runs out of ganbench."""


@export.command("model")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--format", "formats", default="safetensors,onnx,card", show_default=True,
              help="Comma-separated: safetensors (weights + generator.json), onnx, card (README.md model card).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None, help="Folder (default RUN/export).")
def export_model_command(run_dir, formats, out_dir):
    """Export a complete run's generator: safetensors + JSON config (no pickle), ONNX (dynamic batch and size,
    checked against onnxruntime on real photos) and a Hugging Face model card. Needs ganbench[export]."""
    from ganbench.core.request import split_list
    from ganbench.export.model import export_model

    result = export_model(plugin_registry(), run_dir, split_list(formats) or [], out_dir)
    if result.onnx is not None:
        check = result.onnx["check"]
        stderr.print(f"ONNX (dynamic {', '.join(result.onnx['dynamic'])}) vs PyTorch on real photos at "
                     f"{', '.join(check['sizes'])}: max |difference| {check['max_abs_diff']:.1e} "
                     f"(tolerance {check['tolerance']:g})", highlight=False)
    for path in result.files:
        click.echo(str(path))


@export.command("tensorboard")
@click.argument("results", type=click.Path(path_type=Path), default=Path("results"))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Folder for the event files (default RESULTS/tensorboard); one sub-folder per run.")
def export_tensorboard_command(results, out_dir):
    """Replay every stored run (history, validation, samples, final metrics) into TensorBoard event files, so
    old runs can be compared in the same UI: tensorboard --logdir RESULTS/tensorboard. Needs the tensorboard
    tracker (ganbench[tensorboard])."""
    from ganbench.track.replay import replay_results

    written = replay_results(plugin_registry(), results, "tensorboard", out_dir)
    for path in written:
        click.echo(str(path))
    stderr.print(f"{len(written)} run(s) replayed; view with: tensorboard --logdir "
                 f"{out_dir or Path(results) / 'tensorboard'}", highlight=False)
