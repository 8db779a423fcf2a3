"""The types of the plugin contract: what plugins implement (``AdversarialLoss``, ``Metric``) or return
(``Recipe``, ``OptimizerSpec``, ``SizeHints``, ``DatasetSplits``, ``ImageItem``), and the weight initialisation
the built-in networks share. Plugins import them through the public ``ganbench.api``; the core imports them
from here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganbench.core.errors import ConfigError


def init_weights(m: nn.Module) -> None:
    """DCGAN/pix2pix initialisation, for ``module.apply(init_weights)``: N(0, 0.02) convolutions, N(1, 0.02)
    norm scales, zero biases."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm, nn.InstanceNorm2d)) and m.weight is not None:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


#: What a loss' generator step may ask for besides ``fake_scores`` (``AdversarialLoss.generator_needs``):
#: the real batch's scores (relativistic losses) and the critic's intermediate features of the fake and the
#: real batch (feature matching; the critic must declare ``returns_features``).
GENERATOR_NEEDS = ("real_scores", "features")


class AdversarialLoss:
    """An adversarial objective: the critic's loss, the generator's loss, and optional extras.

    Scores are the critic's raw outputs (logits for a BCE loss, unbounded for a Wasserstein loss), float32,
    of the shape the critic returns ((N, 1, h, w) patches for PatchGAN). Under torchrun every score tensor
    a loss receives covers the whole global batch (all processes' rows, in rank order, gradients flowing
    back to the process that computed each row), so batch means and pairings are what one process computes.
    Subclasses override what they need; the trainer never branches on the loss' name.
    """

    #: Shown in reports (e.g. "Wasserstein + GP").
    description: str = ""

    #: False for an objective without an adversary (the regression baseline): the trainer then runs no
    #: critic steps and the generator learns from the L1 reconstruction term alone.
    uses_critic: bool = True

    #: True when ``critic_regularizer`` penalises each image's own critic gradient (a gradient penalty).
    #: Such a penalty is ill-defined for a critic that mixes the images of a batch (BatchNorm): the trainer
    #: refuses that pairing. (A penalty is better written as a ``Regularizer``, which any loss can take.)
    per_sample_regularizer: bool = False

    #: What :meth:`generator_loss` receives besides ``fake_scores``, as keyword arguments (names from
    #: ``GENERATOR_NEEDS``): ``"real_scores"`` -> ``real_scores``; ``"features"`` -> ``fake_features`` and
    #: ``real_features``. A loss that asks for nothing is called with ``fake_scores`` alone and costs no extra
    #: critic work.
    generator_needs: frozenset[str] = frozenset()

    def critic_loss(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
        """The critic's loss (minimised). ``real_scores`` = critic(L, real ab) and ``fake_scores`` =
        critic(L, generator(L)) for the same batch, the generator's ab detached; gradients flow into the critic."""
        raise NotImplementedError

    def generator_loss(self, fake_scores: torch.Tensor, **needed: Any) -> torch.Tensor:
        """The generator's adversarial loss (minimised; the trainer adds the L1 term).

        ``fake_scores`` = critic(L, generator(L)) with gradients flowing into the generator (the critic's weights
        are frozen). What ``generator_needs`` declares comes as keyword arguments, computed by the same critic
        (its weights after this step's critic updates), under the same autocast, cast to float32:

        - ``real_scores``: critic(L, real ab) for the same batch, detached (in the same forward pass as the
          fake where the critic normalises per sample; two passes with BatchNorm, as in the critic step);
        - ``fake_features`` / ``real_features``: lists of the critic's intermediate features of the fake (with
          gradients to the generator) and of the real batch (detached), layer by layer.
        """
        raise NotImplementedError

    @property
    def needs(self) -> frozenset[str]:
        """What the generator step passes to :meth:`generator_loss`: ``generator_needs``, plus
        ``real_scores`` for an older loss that only names a ``real_scores`` parameter (deprecated: declare it)."""
        import inspect
        import warnings

        declared = frozenset(self.generator_needs)
        unknown = sorted(declared - set(GENERATOR_NEEDS))
        if unknown:
            raise ConfigError(f"loss {type(self).__name__}: unknown generator_needs {unknown}; "
                              f"known: {', '.join(GENERATOR_NEEDS)}")
        if "real_scores" not in declared and "real_scores" in inspect.signature(self.generator_loss).parameters:
            warnings.warn(f"{type(self).__name__}.generator_loss names a 'real_scores' parameter without "
                          "declaring it: set generator_needs = frozenset({'real_scores'}) (the name alone will "
                          "stop working)", DeprecationWarning, stacklevel=2)
            declared |= {"real_scores"}
        return declared

    @property
    def generator_sees_real_scores(self) -> bool:
        """True when :meth:`generator_loss` receives ``real_scores`` (relativistic losses)."""
        return "real_scores" in self.needs

    def critic_regularizer(
        self, critic: nn.Module, real: torch.Tensor, fake: torch.Tensor
    ) -> torch.Tensor | None:
        """A term added to the critic loss that needs the critic itself (e.g. a gradient penalty).

        ``real`` and ``fake`` are the critic's inputs (L and ab concatenated), fake detached. (Prefer a
        ``Regularizer`` plugin: any loss can take it from a recipe.)
        """
        return None

    def after_critic_step(self, critic: nn.Module) -> None:
        """A constraint applied after every critic optimiser step (e.g. weight clipping)."""

    def distance_estimate(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor | None:
        """An estimate of the distance between real and fake (the critic's Wasserstein estimate), if any."""
        return None


#: An optimiser's learning rate when a recipe names none.
DEFAULT_LR = 2e-4


#: What a regularizer may need (``Regularizer.needs``): the critic's real and fake inputs, interpolates
#: between them, and ``per_image`` (it penalises each image's own critic gradient: BatchNorm critics refused).
REGULARIZER_NEEDS = ("real", "fake", "interpolates", "per_image")


@dataclass
class CriticInputs:
    """What a regularizer receives besides the critic: the critic's inputs (L and ab concatenated, this
    process's rows, detached), only those it declared in ``needs`` (the others are None). ``interpolates`` =
    ε·real + (1-ε)·fake with one ε ~ U(0, 1) per image, drawn for the global batch (so N data-parallel
    processes draw what one process draws), at least float32."""

    real: torch.Tensor | None = None
    fake: torch.Tensor | None = None
    interpolates: torch.Tensor | None = None


class Regularizer:
    """A term added to the critic's loss in a critic step, composable with any loss: a recipe lists them as
    ``regularizers = [{name = "r1", gamma = 10}]``. ``penalty(critic, inputs)`` returns a scalar (its weight
    included); it runs under the step's autocast through the uncompiled critic (``critic(x)`` returns the
    scores alone, features stripped), so take input gradients with ``torch.autograd.grad(...,
    create_graph=True)``. Every regularizer also takes the option ``every`` (lazy regularization: the penalty
    runs every k-th critic step, multiplied by k), which the trainer handles."""

    description: str = ""
    #: Subset of ``REGULARIZER_NEEDS``.
    needs: frozenset[str] = frozenset()

    def penalty(self, critic: nn.Module, inputs: CriticInputs) -> torch.Tensor:
        raise NotImplementedError


@dataclass
class OptimizerSpec:
    """An optimiser by name (adam, adamw, rmsprop, sgd) with its keyword arguments."""

    name: str = "adam"
    lr: float = DEFAULT_LR
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OptimizerSpec:
        """``{"name": "adam", "lr": 1e-4, "betas": [0, 0.9]}`` (options flat or under ``options``)."""
        opt = dict(data)
        name, lr = opt.pop("name", "adam"), float(opt.pop("lr", DEFAULT_LR))
        options = dict(opt.pop("options", {}))
        options.update(opt)
        return cls(name=name, lr=lr, options=options)

    def build(self, params, device: torch.device) -> torch.optim.Optimizer:
        """The optimiser; an unknown name or an option it rejects is a ConfigError."""
        name = self.name.lower()
        classes = {
            "adam": torch.optim.Adam,
            "adamw": torch.optim.AdamW,
            "rmsprop": torch.optim.RMSprop,
            "sgd": torch.optim.SGD,
        }
        if name not in classes:
            from ganbench.core.errors import unknown_name

            raise unknown_name("optimizer", name, list(classes))
        opts = dict(self.options)
        if "betas" in opts:
            opts["betas"] = tuple(opts["betas"])
        # Fused Adam/AdamW (one kernel over all parameters) on CUDA and CPU (torch >= 2.4 has both); foreach
        # kernels elsewhere. Other devices (the meta device of the pre-flight shape check) get the default
        # implementation: torch 2.4 rejects fused=True there in the constructor.
        if device.type in ("cuda", "cpu") and name in ("adam", "adamw") and "foreach" not in opts:
            opts.setdefault("fused", True)
        elif device.type in ("cuda", "cpu") and "fused" not in opts:
            opts.setdefault("foreach", True)
        try:
            return classes[name](params, lr=self.lr, **opts)
        except TypeError as exc:
            raise ConfigError(f"optimizer {name}: {exc}") from None


@dataclass
class Recipe:
    """A named model: generator + critic + loss + optimisers + critic steps per generator step.

    Every field can be overridden per run with ``--set`` (``loss.clip=0.02``, ``critic_optimizer.lr=1e-4``,
    ``n_critic=3``, ``generator.depth=6``) or from a TOML config file.
    """

    generator: str = "unet"
    generator_options: dict[str, Any] = field(default_factory=dict)
    critic: str = "patchgan"
    critic_options: dict[str, Any] = field(default_factory=dict)
    loss: str = "bce"
    loss_options: dict[str, Any] = field(default_factory=dict)
    #: Penalties added to the critic's loss, any loss: ``[{"name": "r1", "gamma": 10, "every": 16}]`` (a
    #: registered regularizer's name, its options, and ``every`` for lazy regularization).
    regularizers: list[dict[str, Any]] = field(default_factory=list)
    generator_optimizer: OptimizerSpec = field(default_factory=OptimizerSpec)
    critic_optimizer: OptimizerSpec = field(default_factory=OptimizerSpec)
    n_critic: int = 1
    #: WGAN's critic warm-up (the reference code, not the paper's algorithm): this many critic steps, instead
    #: of n_critic, before each of the first 25 generator steps and every 500th; 0 = off.
    critic_warmup: int = 0
    l1_weight: float = 100.0
    #: The last fraction of the budget over which both learning rates fall linearly to zero (pix2pix
    #: decays over its second half); 0 keeps them constant.
    lr_decay: float = 0.5
    description: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recipe:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown recipe key(s) {unknown}; known: {sorted(known)}")
        data = dict(data)
        for key in ("generator_optimizer", "critic_optimizer"):
            if isinstance(data.get(key), dict):
                data[key] = OptimizerSpec.from_dict(data[key])
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, OptimizerSpec):
                value = {"name": value.name, "lr": value.lr, **value.options}
            elif isinstance(value, dict):
                value = dict(value)
            elif isinstance(value, list):
                value = [dict(v) for v in value]
            out[f.name] = value
        return out


@dataclass(frozen=True)
class SizeHints:
    """The sizes a budget suggests for a network (see docs/budgets.md). A generator or critic factory that
    declares a parameter named ``hints`` receives one and maps it to its own options (the recipe's options
    and ``--set`` still win); a factory that does not declare it never sees it.

    ``width``: channels of the first layer; ``depth``: a generator's down/up levels, a critic's stride-2
    layers. ``image_size`` and ``batch_size`` are the budget's (the global batch under torchrun).
    """

    image_size: int
    batch_size: int
    width: int | None = None
    depth: int | None = None


#: A source yields one decoded image as uint8 RGB (H, W, 3); it may raise to say the file is unusable.
ImageSource = Callable[[], np.ndarray]


@dataclass
class ImageItem:
    """One image of a dataset: a stable key (path or name) and how to load it. ``version``: for an image that
    is not a file of its own (a member of a tar shard, a row of a Hugging Face dataset), text that changes when
    its content may have (the container's path, size and modification time); with a ``path`` or a ``version``
    the decoded pixels are cached across runs, without either they are decoded again by every run."""

    key: str
    load: ImageSource
    path: Path | None = None
    version: str | None = None


@dataclass
class DatasetSplits:
    """What a dataset plugin returns: train, validation and test images, split by photo."""

    train: Sequence[ImageItem]
    val: Sequence[ImageItem]
    test: Sequence[ImageItem]
    description: str = ""
    #: How many crops each test/val photo gives (fixed, deterministic): 1 = centre crop only.
    eval_crops: int = 1
    #: Skipped files found while listing (path, reason); loading failures are added by the pipeline.
    skipped: list[tuple[str, str]] = field(default_factory=list)


class MetricBase:
    """What every metric declares, per image (``Metric``) or per set (``SetMetric``)."""

    name: str = ""
    higher_is_better: bool = True
    unit: str = ""
    #: When True the score depends on the prediction alone (e.g. colourfulness); the report also shows
    #: the ground truth's value and the gap to it.
    reference_free: bool = False
    #: What one score is about: ``"image"`` (one score per test image; per-photo verdicts) or ``"set"``
    #: (one score for the whole test set; see ``SetMetric``). Declared, never guessed from the output.
    level: str = "image"


class Metric(MetricBase):
    """A per-image score on uint8 RGB images.

    ``compute(pred, target)`` receives two uint8 tensors of shape (N, H, W, 3) on the CPU and returns
    a float64 tensor of N per-image scores.
    """

    def compute(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class SetMetric(MetricBase):
    """A score of a whole set of images (a distribution distance, FID, KID, the set's colourfulness gap).

    The core calls, for each set it scores (the model's predictions, the gray baseline, the truth's
    split-half floor), ``reset()`` once, then ``update(pred, target)`` on consecutive batches of at most
    ``batch_size`` test crops (uint8 RGB (B, H, W, 3) on the CPU, ``pred[i]`` the prediction for the photo
    ``target[i]`` shows, except in the split-half floor, where ``pred`` and ``target`` are crops of two
    disjoint halves of the test photos), then ``compute()`` once, which returns one float. Accumulate what the
    score needs (histograms, feature sums, features), never the images, so a large test set fits in memory.
    Its replicates are seeds: the report shows mean ± CI over seeds and tests differences over seeds only.
    """

    level = "set"
    #: Whether the truth's split-half value (the metric between two disjoint halves of the test photos) is a
    #: meaningful floor; the report's ground-truth row shows it.
    split_half: bool = True
    #: Whether the report tests differences of this score (seed-level verdicts). False for a signed gap
    #: whose better side is not one direction (e.g. ΔCF: closer to 0 is better, both signs are errors).
    tested: bool = True
    #: The most test crops one ``update`` call receives.
    batch_size: int = 64

    def reset(self) -> None:
        raise NotImplementedError

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        raise NotImplementedError

    def compute(self) -> float:
        raise NotImplementedError


class Tracker:
    """An experiment tracker (TensorBoard, MLflow, Weights & Biases, yours) that watches one run while it trains.

    ganbench calls it on rank 0 only, from a background thread (training never waits for it), in this order:
    :meth:`log_hyperparams` once, then :meth:`log_metrics` and :meth:`log_image` as the run goes,
    :meth:`log_final` when the run is scored, and :meth:`finish` always (also when the run diverged, was
    interrupted or failed). A method that raises switches this tracker off for the rest of the run with one
    warning; the run itself never fails because of a tracker. Override what the tracker supports.
    """

    def log_hyperparams(self, params: dict[str, Any]) -> None:
        """The run's resolved config and recipe, flat: ``{"model": "dcgan", "recipe.loss": "bce",
        "recipe.generator_optimizer.lr": 0.0002, "budget.image_size": 64, ...}`` (str, int, float, bool)."""

    def log_metrics(self, step: int, scalars: dict[str, float]) -> None:
        """Scalars at generator step ``step``: ``loss/*`` (d_loss, d_reg, g_adv, g_l1), ``critic/w_estimate``,
        ``critic/adv_to_l1_grad``, ``lr/generator``, ``lr/critic``, ``throughput/images_per_s``, and at each
        validation ``val/psnr``, ``val/gray_psnr``, ``val/colorfulness``, ``val/truth_colorfulness``. Only the
        finite values the run has are present."""

    def log_image(self, step: int, name: str, image: np.ndarray) -> None:
        """A picture, uint8 RGB (H, W, 3): ``samples/validation`` (gray input | output | truth on the first
        validation crops) at each validation, ``samples/test`` (the run's samples.png) when it is scored."""

    def log_final(self, metrics: dict[str, float]) -> None:
        """The test metrics of the scored run: ``test/model/<metric>`` (the selected generator),
        ``test/last/<metric>``, ``test/gray/<metric>`` (the gray baseline), ``test/truth/<metric>`` for
        reference-free metrics, and ``test/best_step``."""

    def finish(self, status: str) -> None:
        """The run ended (complete, diverged, interrupted or failed): flush and close."""
