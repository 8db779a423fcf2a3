"""The common losses built in (hinge, least squares, relativistic average BCE and hinge, pix2pixHD feature
matching) against hand computations; critic features in the contract (declared, passed only to the losses
that ask, real features detached); the recipes of their published settings train; the spectral-norm PatchGAN."""

import math
import warnings

import pytest
import torch

from ganbench.api import AdversarialLoss, hookimpl
from ganbench.core.errors import ConfigError
from ganbench.testing import plugin, train_tiny
from ganbench.train.setup import build_trainer
from ganbench_plugins.losses import (
    BCELoss,
    HingeLoss,
    LeastSquaresLoss,
    RelativisticAverageLoss,
    feature_matching,
)
from ganbench_plugins.patchgan import PatchGAN

REAL = [1.5, -0.5, 0.25, 2.0]
FAKE = [-1.0, 0.5, -2.0, 0.75]


def _t(values):
    return torch.tensor(values, dtype=torch.float64)


def _mean(values):
    return sum(values) / len(values)


def _softplus(x):
    return math.log1p(math.exp(x))


def test_hinge_and_least_squares_match_their_definitions():
    hinge = HingeLoss()
    assert float(hinge.critic_loss(_t(REAL), _t(FAKE))) == pytest.approx(
        _mean([max(0, 1 - r) for r in REAL]) + _mean([max(0, 1 + f) for f in FAKE]), rel=1e-12)
    assert float(hinge.generator_loss(_t(FAKE))) == pytest.approx(-_mean(FAKE), rel=1e-12)
    ls = LeastSquaresLoss()
    assert float(ls.critic_loss(_t(REAL), _t(FAKE))) == pytest.approx(
        0.5 * _mean([(r - 1) ** 2 for r in REAL]) + 0.5 * _mean([f**2 for f in FAKE]), rel=1e-12)
    assert float(ls.generator_loss(_t(FAKE))) == pytest.approx(0.5 * _mean([(f - 1) ** 2 for f in FAKE]), rel=1e-12)
    ls_pearson = LeastSquaresLoss(real_target=1.0, fake_target=-1.0)  # the paper's a=-1, b=1 coding
    assert float(ls_pearson.critic_loss(_t(REAL), _t(FAKE))) == pytest.approx(
        0.5 * _mean([(r - 1) ** 2 for r in REAL]) + 0.5 * _mean([(f + 1) ** 2 for f in FAKE]), rel=1e-12)
    with pytest.raises(ValueError, match="must differ"):
        LeastSquaresLoss(real_target=1.0, fake_target=1.0)


def test_relativistic_average_bce_and_hinge_match_the_papers_code():
    mr, mf = _mean(REAL), _mean(FAKE)
    # BCE(z, 1) = softplus(-z), BCE(z, 0) = softplus(z)
    ra_d = 0.5 * (_mean([_softplus(-(r - mf)) for r in REAL]) + _mean([_softplus(f - mr) for f in FAKE]))
    ra_g = 0.5 * (_mean([_softplus(r - mf) for r in REAL]) + _mean([_softplus(-(f - mr)) for f in FAKE]))
    bce = RelativisticAverageLoss("bce")
    assert float(bce.critic_loss(_t(REAL), _t(FAKE))) == pytest.approx(ra_d, rel=1e-12)
    assert float(bce.generator_loss(_t(FAKE), real_scores=_t(REAL))) == pytest.approx(ra_g, rel=1e-12)
    rh_d = 0.5 * (_mean([max(0, 1 - (r - mf)) for r in REAL]) + _mean([max(0, 1 + (f - mr)) for f in FAKE]))
    rh_g = 0.5 * (_mean([max(0, 1 + (r - mf)) for r in REAL]) + _mean([max(0, 1 - (f - mr)) for f in FAKE]))
    hinge = RelativisticAverageLoss("hinge")
    assert float(hinge.critic_loss(_t(REAL), _t(FAKE))) == pytest.approx(rh_d, rel=1e-12)
    assert float(hinge.generator_loss(_t(FAKE), real_scores=_t(REAL))) == pytest.approx(rh_g, rel=1e-12)
    assert bce.needs == hinge.needs == frozenset({"real_scores"})


def test_feature_matching_is_pix2pixhds_loss_g_gan_feat():
    # pix2pixHD, one discriminator with n_layers_D = 3: 4 intermediate outputs, each weighted 4/(3+1) = 1,
    # L1 (mean) against the real features, times lambda_feat
    fake = [torch.tensor([[1.0, -2.0]]), torch.tensor([[0.5, 0.5, 3.0]]), torch.tensor([[0.0]]),
            torch.tensor([[2.0, 2.0]])]
    real = [torch.tensor([[0.0, 0.0]]), torch.tensor([[0.5, 1.5, 1.0]]), torch.tensor([[-1.0]]),
            torch.tensor([[2.0, 1.0]])]
    by_hand = (3.0 / 2) + (3.0 / 3) + 1.0 + (1.0 / 2)
    assert float(feature_matching(fake, real)) == pytest.approx(by_hand)
    assert float(feature_matching(fake[:2], real[:2])) == pytest.approx(2.0 * (1.5 + 1.0))  # weight 4/2
    loss = HingeLoss(feature_matching=10.0)
    scores = torch.tensor([0.25, -0.75])
    assert float(loss.generator_loss(scores, fake_features=fake, real_features=real)) == pytest.approx(
        -float(scores.mean()) + 10 * by_hand)
    bce = BCELoss(feature_matching=10.0)
    assert float(bce.generator_loss(scores, fake_features=fake, real_features=real)) == pytest.approx(
        float(BCELoss().generator_loss(scores)) + 10 * by_hand)
    assert loss.needs == bce.needs == frozenset({"features"}) and HingeLoss().needs == frozenset()
    # the real features are constants: no gradient flows into them
    real_leaf = [r.clone().requires_grad_(True) for r in real]
    fake_leaf = [f.clone().requires_grad_(True) for f in fake]
    feature_matching(fake_leaf, real_leaf).backward()
    assert all(r.grad is None for r in real_leaf) and all(f.grad is not None for f in fake_leaf)
    with pytest.raises(ValueError, match="feature_matching must be a finite number >= 0"):
        HingeLoss(feature_matching=-1)


class _Spy(AdversarialLoss):
    """Hinge that records what its generator loss receives."""

    seen: list = []

    def critic_loss(self, real_scores, fake_scores):
        assert isinstance(real_scores, torch.Tensor) and isinstance(fake_scores, torch.Tensor)
        return torch.relu(1 - real_scores).mean() + torch.relu(1 + fake_scores).mean()


class _NeedsFeatures(_Spy):
    generator_needs = frozenset({"features"})

    def generator_loss(self, fake_scores, fake_features, real_features):
        type(self).seen.append((fake_scores, fake_features, real_features))
        return -fake_scores.mean() + feature_matching(fake_features, real_features)


class _NeedsNothing(_Spy):
    def generator_loss(self, fake_scores):  # any keyword argument would be a TypeError
        type(self).seen.append(fake_scores)
        return -fake_scores.mean()


class _OldRelativistic(_Spy):
    def generator_loss(self, fake_scores, real_scores):  # named, not declared: the old way
        type(self).seen.append(real_scores)
        return -(fake_scores - real_scores.mean()).mean()


class _Losses:
    @hookimpl
    def register_losses(self, register):
        register("spy-features", _NeedsFeatures)
        register("spy-nothing", _NeedsNothing)
        register("spy-old", _OldRelativistic)


@pytest.mark.parametrize("norm", ["layer", "batch"])
def test_the_step_passes_critic_features_to_a_loss_that_declares_them(norm):
    _NeedsFeatures.seen = []
    with plugin(_Losses(), name="spies") as reg:
        tr = build_trainer(reg, "wgan-gp", "smoke", sets={"loss": "spy-features", "regularizers": [],
                                                          "critic.features": True, "critic.norm": norm,
                                                          "n_critic": 1})
        L, ab = tr.next_batch()
        fake_ab = tr.steps.generate(L)
        tr.steps.generator_step(L, ab, fake_ab)
    [(fake_s, fake_f, real_f)] = _NeedsFeatures.seen
    critic = tr.nets.critic
    assert len(fake_f) == len(real_f) == critic_layers(critic) + 1  # each LeakyReLU's output
    assert all(f.requires_grad for f in fake_f) and not any(r.requires_grad for r in real_f)
    assert all(f.dtype == torch.float32 for f in [*fake_f, *real_f]) and fake_s.dim() == 4
    if norm == "layer":  # a per-sample critic: the one pass over both is the maths of separate passes
        with torch.no_grad():
            by_hand_s, by_hand_f = critic(torch.cat([L, ab], 1))
        assert all(torch.allclose(r, h, atol=1e-6) for r, h in zip(real_f, by_hand_f, strict=True))


def critic_layers(critic: PatchGAN) -> int:
    return sum(isinstance(m, torch.nn.Conv2d) for m in critic.net) - 2


def test_a_loss_that_does_not_ask_never_sees_the_features():
    _NeedsNothing.seen = []
    with plugin(_Losses(), name="spies") as reg:
        result = train_tiny(reg, loss="spy-nothing", model="wgan-gp",
                            sets={"regularizers": [], "critic.features": True})
        assert result.finite and result.critic_changed and result.generator_changed
    assert _NeedsNothing.seen and all(isinstance(s, torch.Tensor) for s in _NeedsNothing.seen)


def test_a_loss_needing_features_with_a_critic_that_has_none_is_refused_naming_both(registry):
    with pytest.raises(ConfigError, match=r"model 'dcgan': loss 'hinge' needs the critic's intermediate features, "
                                          r"but critic 'patchgan' does not return them"):
        build_trainer(registry, "dcgan", "smoke", sets={"loss": "hinge", "loss.feature_matching": 10.0})


def test_an_old_loss_naming_real_scores_still_gets_them_with_a_deprecation_warning():
    _OldRelativistic.seen = []
    with plugin(_Losses(), name="spies") as reg, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = train_tiny(reg, loss="spy-old", model="wgan-gp", sets={"regularizers": []}, steps=1)
    assert result.finite and len(_OldRelativistic.seen) == 1
    assert _OldRelativistic.seen[0].shape[0] == 4 and not _OldRelativistic.seen[0].requires_grad
    assert any(issubclass(w.category, DeprecationWarning) and "generator_needs" in str(w.message) for w in caught)


@pytest.mark.parametrize("model", ["sngan-hinge", "sngan-ttur", "lsgan", "ragan", "stylegan-r1"])
def test_the_published_recipes_train(registry, model):
    result = train_tiny(registry, model=model, steps=2)
    assert result.finite and result.generator_changed and result.critic_changed


def test_hinge_with_feature_matching_trains_on_a_feature_critic(registry):
    result = train_tiny(registry, model="sngan-hinge", sets={"loss.feature_matching": 10.0,
                                                            "critic.features": True}, steps=2)
    assert result.finite and result.generator_changed and result.losses[-1]["g_adv"] is not None


def test_the_spectral_norm_patchgan_has_weights_of_spectral_norm_one():
    torch.manual_seed(0)
    critic = PatchGAN(base_channels=8, layers=2, norm="none", spectral_norm=True)
    for _ in range(30):  # power iterations run in training forwards
        critic(torch.randn(2, 3, 32, 32))
    convs = [m for m in critic.net if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 4 and all(hasattr(m, "parametrizations") for m in convs)
    for conv in convs:
        sigma = torch.linalg.matrix_norm(conv.weight.detach().flatten(1), ord=2)
        assert float(sigma) == pytest.approx(1.0, abs=0.02)
    plain = PatchGAN(base_channels=8, layers=2, norm="none")
    assert not any(hasattr(m, "parametrizations") for m in plain.net)
    with pytest.raises(ValueError, match="spectral_norm must be true or false"):
        PatchGAN(spectral_norm="yes")
