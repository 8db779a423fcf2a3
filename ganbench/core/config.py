"""Run configuration: recipes with overrides (``--set``), config files (TOML), seeds."""

from __future__ import annotations

import copy
import hashlib
import json
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ganbench.core.budgets import Budget
from ganbench.core.contract import DEFAULT_LR, Recipe
from ganbench.core.errors import ConfigError, GanbenchError, unknown_name
from ganbench.core.options import DEFAULT_METRICS, RUN_KEYS, RunSettings, outside_run_key
from ganbench.core.options import parse_seeds as parse_seeds  # its home before the options were declared
from ganbench.core.registry import Registry
from ganbench.core.validation import check_recipe_values

#: --set prefixes that address a recipe's option dicts.
OPTION_GROUPS = {
    "generator": "generator_options",
    "critic": "critic_options",
    "loss": "loss_options",
    "generator_optimizer": "generator_optimizer",
    "critic_optimizer": "critic_optimizer",
}
SCALARS = {"n_critic", "critic_warmup", "l1_weight", "lr_decay", "generator", "critic", "loss", "regularizers"}


def parse_value(text: str) -> Any:
    """A TOML value (``64``, ``1e-4``, ``true``, ``[0.5, 0.999]``, ``"x"``) or else the bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        if text and all(ch.isalnum() or ch in "-_." for ch in text):
            return text
        raise ConfigError(f"malformed value '{text}': use a TOML value such as 64, 1e-4, true or \"text\"") from None


def parse_sets(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key or not value.strip():
            raise ConfigError(f"malformed --set '{item}': expected KEY=VALUE, e.g. generator.depth=6")
        check_set_key(key)
        out[key] = parse_value(value.strip())
    return out


def check_set_key(key: str) -> None:
    head, _, tail = key.partition(".")
    if head in OPTION_GROUPS and tail:
        return
    if head in SCALARS and not tail:
        return
    raise ConfigError(
        f"unknown --set key '{key}': use generator.X, critic.X, loss.X, generator_optimizer.X, "
        f"critic_optimizer.X, n_critic, critic_warmup, l1_weight, lr_decay, generator, critic, loss or regularizers "
        f"(e.g. regularizers=[{{name=\"r1\", gamma=10}}])"
    )


def apply_sets(recipe: dict[str, Any], sets: dict[str, Any]) -> dict[str, Any]:
    recipe = copy.deepcopy(recipe)
    for key, value in sets.items():
        check_set_key(key)
        head, _, tail = key.partition(".")
        if head in SCALARS and not tail:
            if head in OPTION_GROUPS and recipe.get(head) != value:
                # the options belonged to the part being replaced: a new loss starts from its own defaults
                recipe[OPTION_GROUPS[head]] = {}
            recipe[head] = value
        elif head.endswith("_optimizer") and tail == "name" and recipe.get(head, {}).get("name") != value:
            # another optimiser: keep the learning rate, drop options only the old one knew (betas, ...)
            recipe[head] = {"name": value, "lr": recipe.get(head, {}).get("lr", DEFAULT_LR)}
        else:
            recipe.setdefault(OPTION_GROUPS[head], {})[tail] = value
    return recipe


def _recipe_dict(obj: Any, name: str) -> dict[str, Any]:
    if isinstance(obj, Recipe):
        return obj.to_dict()
    if isinstance(obj, dict):
        return Recipe.from_dict(obj).to_dict()
    raise ConfigError(f"model '{name}' factory returned {type(obj).__name__}, not a Recipe")


@dataclass
class ConfigFile:
    """A TOML config: ``[run]`` option defaults, ``[set]`` overrides for every model, and
    ``[models.NAME]`` recipes derived from a registered one with ``base = "wgan-gp"``."""

    run: dict[str, Any] = field(default_factory=dict)
    sets: dict[str, Any] = field(default_factory=dict)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    path: str | None = None


def load_config_file(path: str | Path | None) -> ConfigFile:
    if path is None:
        return ConfigFile()
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"run", "set", "models"})
    if unknown:
        raise ConfigError(f"config file {path}: unknown section(s) {unknown}; known: run, set, models")
    run = data.get("run", {})
    bad = sorted(set(run) - RUN_KEYS)
    if bad:
        raise ConfigError(f"config file {path}: unknown key(s) in [run]: {bad}; known: {sorted(RUN_KEYS)}")
    sets = data.get("set", {})
    for key in sets:
        try:
            check_set_key(key)
        except ConfigError as exc:
            raise ConfigError(f"config file {path}: [set] {exc}") from None
    models = data.get("models", {})
    recipe_keys = set(Recipe().to_dict()) | {"base", "set"}
    for name, body in models.items():
        if not isinstance(body, dict):
            raise ConfigError(f"config file {path}: [models.{name}] must be a table")
        bad = sorted(set(body) - recipe_keys)
        if bad:
            raise ConfigError(
                f"config file {path}: unknown key(s) in [models.{name}]: {bad}; known: {sorted(recipe_keys)}"
            )
        if "base" not in body:
            raise ConfigError(f"config file {path}: [models.{name}] needs base = \"<registered model>\"")
    return ConfigFile(run=run, sets=sets, models=models, path=str(path))


def resolve_recipe(
    registry: Registry, name: str, config: ConfigFile | None = None, sets: dict[str, Any] | None = None
) -> Recipe:
    """The recipe a run uses: registered (or config-file) recipe, then ``sets`` (--set), its names and values
    checked. (A budget's network sizes are hints given to the networks when they are built, not recipe
    options: see ``Registry.build``.)"""
    recipe = _resolve_dict(registry, name, config or ConfigFile(), sets or {})
    check_recipe_values(registry, name, recipe)
    return Recipe.from_dict(recipe)


def _resolve_dict(registry: Registry, name: str, config: ConfigFile, sets: dict[str, Any]) -> dict[str, Any]:
    """The recipe as the plain dict --set and [models.NAME] edit, every field present (Recipe's defaults)."""
    if name in config.models:
        body = copy.deepcopy(config.models[name])
        base = body.pop("base")
        if base == name:
            raise ConfigError(f"[models.{name}] cannot be based on itself")
        recipe = _resolve_dict(registry, base, ConfigFile(), {})
        recipe_sets = body.pop("set", {})
        for part in ("generator", "critic", "loss"):
            if part in body and body[part] != recipe.get(part):
                recipe[OPTION_GROUPS[part]] = {}  # the base's options belonged to the replaced part
        for key, value in body.items():
            if isinstance(value, dict) and isinstance(recipe.get(key), dict):
                recipe[key] = {**recipe[key], **value}
            else:
                recipe[key] = value
        recipe = apply_sets(recipe, recipe_sets)
        recipe["description"] = body.get("description", f"{base} with {sorted(body) + sorted(recipe_sets)} changed")
    else:
        if name not in registry.entries["model"]:
            raise unknown_name("model", name, registry.names("model") + sorted(config.models))
        recipe = _recipe_dict(registry.create("model", name), name)
    recipe = apply_sets(recipe, sets)
    # validate the names now, before any training starts; the error names the model
    try:
        registry.get("generator", recipe["generator"])
        registry.get("critic", recipe["critic"])
        registry.get("loss", recipe["loss"])
        recipe["regularizers"] = check_regularizer_specs(registry, name, recipe.get("regularizers", []))
    except ConfigError as exc:
        text = str(exc)
        raise ConfigError(text if text.startswith(f"model '{name}'") else f"model '{name}': {text}") from None
    warmup = recipe["critic_warmup"]
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ConfigError(f"model '{name}': critic_warmup must be a whole number >= 0 (0 = off), got {warmup!r}")
    return recipe


def check_regularizer_specs(registry: Registry, model: str, specs: Any) -> list[dict[str, Any]]:
    """A recipe's ``regularizers``: a list of tables, each naming a registered regularizer (a bare name is
    taken as ``{name = NAME}``)."""
    if not isinstance(specs, list):
        specs = [specs]
    out = []
    for spec in specs:
        spec = {"name": spec} if isinstance(spec, str) else spec
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise ConfigError(f"model '{model}': each regularizer must be a table with a name, e.g. "
                              f"{{name = \"r1\", gamma = 10}}; got {spec!r}")
        registry.get("regularizer", spec["name"])
        out.append(dict(spec))
    return out


def check_models(registry: Registry) -> list[str]:
    """One line per registered model whose recipe does not resolve (a factory that fails, a generator, critic
    or loss that no loaded plugin registers, a bad option value), naming the model and its plugin."""
    problems = []
    for name in registry.names("model"):
        try:
            resolve_recipe(registry, name)
        except GanbenchError as exc:
            plugin = registry.get("model", name).plugin
            text = str(exc).removeprefix(f"model '{name}': ")
            text = text if text.startswith("plugin ") else f"model '{name}' (plugin {plugin}): {text}"
            problems.append(text)
    return problems


def stable_hash(data: Any, length: int = 12) -> str:
    blob = json.dumps(data, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


#: The parts of a run that its identity names, each by the source of the module that defines it.
IDENTITY_PARTS = ("generator", "critic", "loss", "regularizers", "dataset")


def run_identity(registry: Registry, recipe: Recipe, dataset: str, metrics: list[str] | None = None) -> dict[str, Any]:
    """What built a run beyond its options, a flat readable dict: ``recipe_hash`` (the resolved recipe: what
    the model's factory, a config file and --set made of it) and, per part (generator, critic, loss,
    regularizers, dataset), the part's name, its plugin's distribution and version, and the module defining
    it with a hash of that module's source (``Registry.part_identity``). Metrics are not part of it: a
    changed metric re-scores a stored generator instead of training it again (``scoring_identity``). Two
    names for one recipe have one identity."""
    out: dict[str, Any] = {"recipe_hash": stable_hash(recipe.to_dict())}
    for kind in ("generator", "critic", "loss"):
        out[kind] = registry.part_identity(kind, getattr(recipe, kind))
    if recipe.regularizers:
        out["regularizers"] = "; ".join(registry.part_identity("regularizer", spec["name"])
                                        for spec in recipe.regularizers)
    out["dataset"] = registry.part_identity("dataset", dataset)
    return out


def scoring_identity(registry: Registry, metrics: list[str]) -> dict[str, str]:
    """``{metric: part identity}``: what scored a run (recorded in run.json, outside its key)."""
    return {name: registry.part_identity("metric", name) for name in metrics}


@dataclass
class RunConfig(RunSettings):
    """Everything that defines one training run (one model, one seed): the fields below and the settings every
    run of a request shares (:class:`~ganbench.core.options.RunSettings`: checkpoint_every, ema, ...). Recorded
    in ``run.json`` as :meth:`to_dict` (recipe and budget as plain dicts) and read back with :meth:`from_dict`."""

    model: str
    recipe: Recipe
    dataset: str
    dataset_options: dict[str, Any]
    budget: Budget
    seed: int = 0
    device: str = "cpu"
    precision: str = "fp32"
    eval_every: int = 0
    metrics: list[str] = field(default_factory=lambda: list(DEFAULT_METRICS))
    #: what built it: {"recipe_hash": ..., "generator": ..., "critic": ..., "loss": ..., "regularizers": ...,
    #: "dataset": ...} (see run_identity); part of the run key, so a changed part or recipe starts a new run
    identity: dict[str, Any] = field(default_factory=dict)

    @property
    def image_size(self) -> int:
        return int(self.budget.image_size)

    @property
    def batch_size(self) -> int:
        return int(self.budget.batch_size)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        return copy.deepcopy({**out, "recipe": self.recipe.to_dict(), "budget": self.budget.to_dict()})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """A recorded config (``run.json``'s ``config``)."""
        return cls(**{**data, "recipe": Recipe.from_dict(data["recipe"]), "budget": Budget.from_dict(data["budget"])})

    def comparison_key(self) -> str:
        """Identifies the comparison: what every model in it shares."""
        d = self.to_dict()
        return stable_hash({k: d[k] for k in ("dataset", "dataset_options", "budget", "device", "precision")})

    def run_key(self) -> str:
        """Identifies the run: re-running the same command with the same plugins finds (and resumes or skips)
        it; a changed plugin or recipe gives another key."""
        d = self.to_dict()
        for name in outside_run_key():  # checkpoint_every, ...: how a run is kept, not what it computes
            d.pop(name)
        return stable_hash(d)
