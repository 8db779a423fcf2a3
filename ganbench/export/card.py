"""A model card for an exported generator, in the Hugging Face layout (YAML front matter, then Markdown), written
from what the run recorded: ``run.json`` (recipe, budget, data, seed, command, provenance) and ``metrics.json``
(the selected generator beside the gray baseline and the ground truth)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ganbench.core.errors import ResultsError
from ganbench.store.records import RunRecord
from ganbench.store.results import RunDir


def _yaml_value(value: Any) -> str:
    return json.dumps(value)  # a JSON scalar or list is valid YAML


def _seed_rows(run_dir: Path, record: RunRecord) -> list[tuple[int, dict[str, Any]]]:
    """This model's complete runs of the same comparison in the same results folder, by seed (this run's included)."""
    rows: dict[int, dict[str, Any]] = {}
    for sibling in sorted(run_dir.parent.iterdir()):
        try:
            other = RunDir(sibling).record()
            metrics = RunDir(sibling).metrics()
        except ResultsError:
            continue
        if (other.complete and other.comparison == record.comparison and other.model == record.model
                and other.identity == record.identity):
            rows.setdefault(other.seed, metrics.model)
    return sorted(rows.items())


def _fmt(value: Any) -> str:
    return "—" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def model_card(run_dir: Path, record: RunRecord, config: dict[str, Any], formats: list[str]) -> str:
    run_dir = Path(run_dir)
    metrics = RunDir(run_dir).metrics()
    cfg = record.config
    recipe, budget = record.recipe, record.budget or cfg["budget"]
    names = list(metrics.model)
    model = record.model
    index = [{"name": n, "type": n, "value": round(v, 4)} for n, v in metrics.scores("model").items()]
    front = [
        "---",
        "library_name: ganbench",
        "pipeline_tag: image-to-image",
        f"tags: {_yaml_value(['image-colorization', 'gan', 'pix2pix', 'unet', model])}",
        "model-index:",
        f"  - name: {_yaml_value('ganbench-' + model + '-s' + str(cfg['seed']))}",
        "    results:",
        "      - task:",
        "          type: image-to-image",
        "          name: automatic image colourization",
        "        dataset:",
        f"          name: {_yaml_value(record.dataset_description or record.dataset)}",
        f"          type: {_yaml_value(cfg['dataset'])}",
        "        metrics:",
        *[f"          - {{name: {_yaml_value(m['name'])}, type: {_yaml_value(m['type'])}, value: {m['value']}}}"
          for m in index],
        "---",
    ]
    data, spent, prov = record.data, record.spent, record.provenance
    table = ["| row | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    rows = [(f"**{model}** (selected generator, step {metrics.best_step})", metrics.model),
            ("last generator", metrics.last), ("gray (the input as is)", metrics.gray),
            ("ground truth", metrics.truth)]
    for label, values in rows:
        table.append(f"| {label} | " + " | ".join(_fmt(values.get(n)) for n in names) + " |")
    units = ", ".join(f"{n}: {'higher' if m.get('higher_is_better', True) else 'lower'} is better"
                      + (f" ({m['unit']})" if m.get("unit") else "") for n, m in metrics.metrics.items())
    seeds = _seed_rows(run_dir, record)
    seed_table = []
    if seeds:
        seed_table = ["| seed | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        seed_table += [f"| {s}{' (this model)' if s == cfg['seed'] else ''} | "
                       + " | ".join(_fmt(m.get(n)) for n in names) + " |" for s, m in seeds]
    onnx = config.get("onnx")
    files = ["`generator.safetensors` + `generator.json` (weights and how to build the network; no pickle)"
             if "safetensors" in formats else "",
             (f"`generator.onnx` (dynamic {', '.join(onnx['dynamic'])}; sides multiples of {onnx['stride']}; "
              f"checked against PyTorch with onnxruntime on real photos at {', '.join(onnx['check']['sizes'])}: "
              f"max |difference| {onnx['check']['max_abs_diff']:.1e} on ab in [-1, 1], tolerance "
              f"{onnx['check']['tolerance']:g})") if onnx else ""]
    body = [
        f"# ganbench {model} colourizer (seed {cfg['seed']})",
        "",
        f"A UNet-style generator that predicts the colour (CIE Lab ab) of a photo from its lightness (L), trained "
        f"by ganbench with the **{model}** recipe: {recipe.get('description') or ''}".rstrip(),
        "",
        "## Model",
        "",
        f"- generator: `{recipe['generator']}` {json.dumps(recipe['generator_options'])}, "
        f"{config.get('parameters', 0):,} parameters; the budget's size hints: "
        f"{json.dumps(budget.get('hints', {}).get('generator', {}))}",
        f"- critic: `{recipe['critic']}` {json.dumps(recipe['critic_options'])}; loss `{recipe['loss']}` "
        f"{json.dumps(recipe['loss_options'])}; {recipe['n_critic']} critic step(s) per generator step; "
        f"L1 weight {recipe['l1_weight']}; learning-rate decay over the last {recipe['lr_decay']:.0%}",
        f"- optimisers: generator {json.dumps(recipe['generator_optimizer'])}, critic "
        f"{json.dumps(recipe['critic_optimizer'])}",
        f"- input: {config['input']}; output: {config['output']}",
        "",
        "## Training",
        "",
        f"- budget `{budget.get('name')}`: {budget.get('image_size')}x{budget.get('image_size')} crops, batch "
        f"{budget.get('batch_size')}, {spent.get('generator_steps', budget.get('total_steps'))} generator steps "
        f"({spent.get('images', '?')} images), {spent.get('train_seconds', '?')} s of training",
        f"- data: {record.dataset_description or record.dataset} — {data.get('train_images', '?')} training "
        f"photos, {data.get('val_crops', '?')} validation crops, {data.get('test_crops', '?')} test crops",
        f"- seed {cfg['seed']}, precision {cfg['precision']}, device {prov.get('device_name') or cfg['device']}; "
        f"ganbench {prov.get('ganbench_version', '?')} (commit {prov.get('git_commit') or '?'}), torch "
        f"{prov.get('torch_version', '?')}",
        f"- selection: {metrics.selection_rule}",
        "",
        "## Evaluation",
        "",
        f"On the run's {metrics.n_test_images if metrics.n_test_images is not None else '?'} test crops ({units}):",
        "",
        *table,
        "",
        *(["Every seed of this model in the same comparison:", "", *seed_table, ""] if len(seeds) > 1 else []),
        "## Limitations",
        "",
        "- Colourization is ambiguous: the generator predicts one plausible colouring, often desaturated. Compare "
        "it with the gray row above: a model below gray on PSNR/MAE colours worse than leaving the photo gray.",
        f"- Trained on {data.get('train_images', '?')} photos at {budget.get('image_size')} px: expect it to "
        "generalise poorly to other kinds of images; at higher resolution the colours are upsampled (the L is "
        "kept at full resolution).",
        "- The numbers are from one test split of one dataset" + (f" and {len(seeds)} seeds" if len(seeds) > 1
                                                                  else " and one seed") + "; see ganbench's "
        "report for confidence intervals across seeds.",
        "",
        "## Files",
        "",
        *[f"- {f}" for f in files if f],
        "",
        "## Use",
        "",
        "```python",
        "import ganbench",
        "from PIL import Image",
        "",
        "colour = ganbench.colorize(Image.open(\"photo.jpg\"), run=\"path/to/this/folder\")",
        "```",
        "",
        "## Reproduce",
        "",
        "```bash",
        record.command or f"ganbench run --models {model} --budget {budget.get('name')} --seeds {cfg['seed']}",
        "```",
        "",
        f"(run key `{record.key}`: the same command with the same plugins finds this run again.)",
        "",
    ]
    return "\n".join(front + [""] + body)
