"""scores: training-free scores checked against known answers (SynFlow's conservation, hand-built NASWOT kernels,
the analytic gradient of a linear softmax model) and against the caller's model being left as it was."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import pytest
import torch
from torch import nn

from scalesearch.nets import cifar_resnet
from scalesearch.nets.build import build_model
from scalesearch.train.scores import SCORES, compute_scores, naswot, score_batch, synflow, synflow_per_layer


def _seeded(factory: Callable[[], nn.Module], seed: int = 0) -> nn.Module:
    """A module built under its own seed, leaving the global RNG as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return factory()


def _randn(*shape: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _plain_net(bn: bool = False, bias: bool = False) -> nn.Sequential:
    """conv-[bn]-relu-conv-[bn]-relu-pool-linear on 3-channel inputs."""
    layers: list[nn.Module] = [nn.Conv2d(3, 4, 3, padding=1, bias=bias)]
    layers += [nn.BatchNorm2d(4)] if bn else []
    layers += [nn.ReLU(), nn.Conv2d(4, 6, 3, padding=1, bias=bias)]
    layers += [nn.BatchNorm2d(6)] if bn else []
    layers += [nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 5, bias=bias)]
    return nn.Sequential(*layers)


def test_synflow_per_layer_sums_are_conserved_and_equal_the_output_sum():
    net = _seeded(_plain_net)
    sums = synflow_per_layer(net, (3, 8, 8))
    assert len(sums) == 3
    # R computed independently: the |weights| network on one all-ones input, summed
    ref = copy.deepcopy(net).double()
    with torch.no_grad():
        for p in ref.parameters():
            p.abs_()
        r = float(ref(torch.ones(1, 3, 8, 8, dtype=torch.float64)).sum())
    assert sums == pytest.approx([r, r, r], rel=1e-6)
    assert synflow(net, (3, 8, 8)) == pytest.approx(3 * r, rel=1e-12)
    # biases break the homogeneity, and with it the conservation: the check can tell
    biased = _seeded(lambda: _plain_net(bias=True))
    with torch.no_grad():
        for m in biased.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.bias.fill_(1.0)
    b = synflow_per_layer(biased, (3, 8, 8))
    assert b[0] != pytest.approx(b[2], rel=1e-3)


def test_synflow_bypasses_batchnorm_like_the_reference():
    plain = _seeded(_plain_net)
    with_bn = _seeded(lambda: _plain_net(bn=True))
    loaded = with_bn.load_state_dict(_with_bn_names(plain.state_dict()), strict=False)
    assert not loaded.unexpected_keys and all(".running" in k or "num_batches" in k or k.split(".")[0] in "147"
                                              for k in loaded.missing_keys)
    with torch.no_grad():  # BN parameters and stats that would change the result if BN were applied
        for m in with_bn.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.fill_(3.0)
                m.bias.fill_(-2.0)
                m.running_mean.fill_(5.0)
    assert synflow_per_layer(with_bn, (3, 8, 8)) == synflow_per_layer(plain, (3, 8, 8))
    # a spatial size that pools to 1x1 with batch 1: a BN in training mode could not even run on it
    assert math.isfinite(synflow(with_bn, (3, 1, 1)))


def _with_bn_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The plain net's state under the BN net's indices (conv 0 -> 0, conv 2 -> 3, linear 6 -> 8)."""
    index = {"0": "0", "2": "3", "6": "8"}
    return {index[k.split(".")[0]] + "." + k.split(".", 1)[1]: v for k, v in state.items()}


def test_synflow_ignores_the_data():
    net = _seeded(lambda: _plain_net(bn=True))
    y = torch.arange(8) % 5
    a = compute_scores(net, _randn(8, 3, 8, 8, seed=1), y, names=["synflow"])
    b = compute_scores(net, 10 * _randn(8, 3, 8, 8, seed=2) + 3, y, names=["synflow"])
    assert a["synflow"] == b["synflow"]
    assert a["synflow"] > 0


def _hand_naswot(model: nn.Module, x: torch.Tensor) -> float:
    """log|det(N_A - Hamming)| from ReLU codes collected by this test's own hooks, on a train-mode copy."""
    net = copy.deepcopy(model).train()
    codes: list[torch.Tensor] = []
    handles = [m.register_forward_hook(lambda m, i, o: codes.append((o.detach() > 0).reshape(len(x), -1)))
               for m in net.modules() if isinstance(m, nn.ReLU)]
    with torch.no_grad():
        net(x)
    for h in handles:
        h.remove()
    c = torch.cat(codes, dim=1)
    hamming = (c[:, None, :] != c[None, :, :]).sum(-1).double()
    return float(torch.linalg.slogdet(c.shape[1] - hamming).logabsdet)


@pytest.mark.parametrize("bn", [False, True])
def test_naswot_equals_the_hand_built_kernel(bn):
    net = _seeded(lambda: _plain_net(bn=bn))
    x = _randn(6, 3, 8, 8)
    got = naswot(net, x)
    assert math.isfinite(got)
    assert got == pytest.approx(_hand_naswot(net, x), rel=1e-9, abs=1e-9)
    assert compute_scores(net, x, torch.zeros(6, dtype=torch.long), names=["naswot"])["naswot"] == got


def test_naswot_is_minus_inf_when_two_inputs_share_their_codes():
    # a bias-free net without BN is positively homogeneous: x and 2x switch the same ReLUs on
    net = _seeded(_plain_net)
    x = _randn(4, 3, 8, 8)
    assert math.isfinite(naswot(net, x))
    x[3] = 2 * x[0]
    assert naswot(net, x) == -math.inf


def test_snip_and_grad_norm_match_the_analytic_gradient_of_a_linear_softmax_model():
    lin = _seeded(lambda: nn.Linear(7, 4))
    x = _randn(5, 7)
    y = torch.tensor([0, 3, 1, 1, 2])
    # dL/dW of mean cross-entropy on z = x W^T + b is (softmax(z) - onehot(y))^T x / N
    w, b, xd = lin.weight.detach().double(), lin.bias.detach().double(), x.double()
    p = torch.softmax(xd @ w.T + b, dim=1)
    g = (p - nn.functional.one_hot(y, 4).double()).T @ xd / len(x)
    got = compute_scores(lin, x, y, names=["snip", "grad_norm"])
    assert got["snip"] == pytest.approx(float((g * w).abs().sum()), rel=1e-5)
    assert got["grad_norm"] == pytest.approx(float(g.norm()), rel=1e-5)


def test_compute_scores_leaves_the_model_unchanged_and_is_deterministic():
    net = _seeded(lambda: nn.Sequential(_plain_net(bn=True), nn.Dropout(0.5)))
    net[0][1].eval()  # mixed training flags, a frozen weight and an existing .grad must all survive
    net[0][0].weight.requires_grad_(False)
    net[0][3].weight.grad = torch.full_like(net[0][3].weight, 0.25)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    flags = [m.training for m in net.modules()]
    needs = [p.requires_grad for p in net.parameters()]
    x, y = _randn(8, 3, 8, 8), torch.arange(8) % 5
    rng = torch.get_rng_state()
    first = compute_scores(net, x, y)
    assert torch.equal(torch.get_rng_state(), rng)
    assert list(first) == list(SCORES)
    assert all(math.isfinite(v) for v in first.values())
    assert compute_scores(net, x, y) == first
    after = net.state_dict()
    assert after.keys() == before.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert [m.training for m in net.modules()] == flags
    assert [p.requires_grad for p in net.parameters()] == needs
    assert torch.equal(net[0][3].weight.grad, torch.full_like(net[0][3].weight, 0.25))
    assert [p.grad is None for p in net.parameters()] == [p is not net[0][3].weight for p in net.parameters()]


def test_unknown_score_names_are_refused_with_the_known_ones():
    net = _seeded(_plain_net)
    with pytest.raises(ValueError, match="'flops'.*known: naswot, synflow, snip, grad_norm"):
        compute_scores(net, _randn(2, 3, 8, 8), torch.zeros(2, dtype=torch.long), names=["snip", "flops"])


def test_score_batch_is_seeded_and_without_replacement():
    x_all = torch.arange(50).float()[:, None].repeat(1, 3)
    y_all = torch.arange(50)
    x, y = score_batch(x_all, y_all, size=20, seed=3)
    assert x.shape == (20, 3) and torch.equal(x[:, 0].long(), y)
    assert len(set(y.tolist())) == 20
    assert torch.equal(score_batch(x_all, y_all, size=20, seed=3)[1], y)
    assert not torch.equal(score_batch(x_all, y_all, size=20, seed=4)[1], y)
    with pytest.raises(ValueError, match="size"):
        score_batch(x_all, y_all, size=51)


def test_scores_of_a_tiny_cifar_resnet_are_finite():
    net = _seeded(lambda: build_model(cifar_resnet(8, width=4, resolution=8)))
    x, y = score_batch(_randn(40, 3, 8, 8), torch.arange(40) % 10, size=16, seed=0)
    scores = compute_scores(net, x, y)
    assert list(scores) == list(SCORES)
    assert all(isinstance(v, float) and math.isfinite(v) for v in scores.values()), scores
    assert scores["synflow"] > 0 and scores["snip"] > 0 and scores["grad_norm"] > 0


@pytest.mark.parametrize("names", [list(SCORES), ["grad_norm", "naswot"], ["snip"]])
def test_scores_computed_together_equal_each_score_computed_alone(names):
    """compute_scores runs naswot, snip and grad_norm on one forward and backward pass: the values are exactly
    those of each score's own function (an MBConv net with SE, SiLU and BatchNorm, and a ReLU ResNet)."""
    from scalesearch.nets import efficientnet
    from scalesearch.train.scores import grad_norm, snip

    alone = {"naswot": lambda m, x, y: naswot(m, x), "synflow": lambda m, x, y: synflow(m, tuple(x.shape[1:])),
             "snip": snip, "grad_norm": grad_norm}
    for spec in (efficientnet(width_mult=0.25, depth_mult=0.25, resolution=16, stem_stride=1, num_classes=4),
                 cifar_resnet(8, width=4, resolution=8, num_classes=4)):
        net = _seeded(lambda spec=spec: build_model(spec))
        x, y = score_batch(_randn(24, 3, spec.resolution, spec.resolution), torch.arange(24) % 4, size=12)
        together = compute_scores(net, x, y, names=names)
        assert list(together) == names
        assert together == {name: alone[name](net, x, y) for name in names}
