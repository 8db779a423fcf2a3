"""A trainer's checkpoint: what a resumed run needs to continue bit-exactly (weights, optimisers, the
gradient scaler, the EMA copy, counters, the logged history, the best pick so far and every random number
generator). The keys are those of checkpoints already on disk (``opt_g``/``opt_d``: the generator's and the
critic's optimiser)."""

from __future__ import annotations

from typing import Any

from ganbench.train.state import Counters, rng_state, set_rng_state


def checkpoint_state(trainer: Any) -> dict[str, Any]:
    """The state of ``trainer`` (a ``Trainer``) to save."""
    nets = trainer.nets
    return {
        "generator": nets.generator.state_dict(),
        "critic": nets.critic.state_dict(),
        "opt_g": nets.generator_optimizer.state_dict(),
        "opt_d": nets.critic_optimizer.state_dict(),
        "scaler": trainer.steps.scaler.state_dict(),
        "ema": trainer.ema.state_dict() if trainer.ema is not None else None,
        "counters": dict(trainer.counters.__dict__),
        "history": trainer.log.rows,
        "val_history": trainer.validation.history,
        "best": trainer.validation.best,
        "last_finite": trainer.log.last_finite,
        "rng": rng_state(),
    }


def restore_state(trainer: Any, state: dict[str, Any]) -> None:
    """Put a saved state back into ``trainer`` (a ``Trainer`` built with the same run config)."""
    nets = trainer.nets
    nets.generator.load_state_dict(state["generator"])
    nets.critic.load_state_dict(state["critic"])
    nets.generator_optimizer.load_state_dict(state["opt_g"])
    nets.critic_optimizer.load_state_dict(state["opt_d"])
    trainer.steps.scaler.load_state_dict(state["scaler"])
    if trainer.ema is not None and state.get("ema") is not None:
        trainer.ema.load_state_dict(state["ema"])
    trainer.counters = Counters(**state["counters"])
    trainer.log.rows = list(state["history"])
    trainer.validation.history = list(state["val_history"])
    trainer.validation.best = state["best"]
    trainer.log.last_finite = state.get("last_finite")
    set_rng_state(state["rng"])
