"""Checkpoint contents round-trip (the resume tests in test_reliability.py cover whole runs)."""

import torch

from ganbench.core.registry import load_registry
from ganbench.train.setup import build_trainer


def _ema_trainer(seed):
    return build_trainer(load_registry(), "dcgan", "smoke", image_size=32, sets={"generator.dropout": 0},
                         seed=seed, ema=0.9)


def test_a_checkpoint_without_an_ema_copy_leaves_the_trainers_own_ema_alone():
    # a run saved before EMA was on (or by a trainer without one) holds "ema": None: nothing to restore
    source, target = _ema_trainer(1), _ema_trainer(2)
    state = source.state_dict()
    ema_before = {k: v.clone() for k, v in target.ema.state_dict().items()}
    state["ema"] = None
    target.load_state_dict(state)
    assert all(torch.equal(ema_before[k], v) for k, v in target.ema.state_dict().items())
    assert all(torch.equal(source.nets.generator.state_dict()[k], v)
               for k, v in target.nets.generator.state_dict().items())  # the rest was restored


def test_a_checkpoint_with_an_ema_copy_restores_it():
    source, target = _ema_trainer(1), _ema_trainer(2)
    target.load_state_dict(source.state_dict())
    assert all(torch.equal(source.ema.state_dict()[k], v) for k, v in target.ema.state_dict().items())
