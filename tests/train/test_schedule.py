"""The schedule as pure functions of the step: the trainer-level behaviour is in test_training_choices.py and
tests/plugins/test_recipe_options.py; these pin the pieces a resumed run and every rank rely on."""

import pytest
import torch

from ganbench.train.schedule import LearningRates, Schedule, lr_factor


@pytest.mark.parametrize(("decay", "progress", "factor"), [
    (0.5, None, 1.0), (0.0, 0.9, 1.0), (0.5, 0.0, 1.0), (0.5, 0.5, 1.0), (0.5, 0.75, 0.5), (0.5, 1.0, 0.0),
    (0.5, 1.2, 0.0), (0.25, 0.875, 0.5), (0.99, 0.01, 1.0), (0.99, 0.505, 0.5),
])
def test_lr_factor_decays_linearly_over_the_last_fraction(decay, progress, factor):
    assert lr_factor(decay, progress) == pytest.approx(factor)


def test_scaling_learning_rates_twice_does_not_compound():
    g = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=2e-4)
    d = torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 1e-3},
                         {"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 1e-2}])
    lrs = LearningRates(g, d)
    lrs.scale(0.5)
    lrs.scale(0.5)
    assert [grp["lr"] for opt in (g, d) for grp in opt.param_groups] == pytest.approx([1e-4, 5e-4, 5e-3])
    lrs.scale(1.0)
    assert [grp["lr"] for opt in (g, d) for grp in opt.param_groups] == pytest.approx([2e-4, 1e-3, 1e-2])


def test_no_critic_means_no_critic_steps_even_in_the_warm_up():
    assert Schedule(0, 100, 0.5).critic_steps_before(0) == 0
    assert [Schedule(5, 0, 0.5).critic_steps_before(s) for s in (0, 25, 500)] == [5, 5, 5]
