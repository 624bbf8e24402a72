"""Tests for the optimizer registry, `build_optimizer` and `set_learning_rate`."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nnplay.spec import OptimizerName, OptimizerSpec
from nnplay.train.optimizers import OPTIMIZERS, build_optimizer, set_learning_rate

TORCH_CLASSES: dict[OptimizerName, type[torch.optim.Optimizer]] = {
    OptimizerName.sgd: torch.optim.SGD,
    OptimizerName.adagrad: torch.optim.Adagrad,
    OptimizerName.adadelta: torch.optim.Adadelta,
    OptimizerName.rmsprop: torch.optim.RMSprop,
    OptimizerName.adam: torch.optim.Adam,
    OptimizerName.adamw: torch.optim.AdamW,
    OptimizerName.nadam: torch.optim.NAdam,
}


def test_every_optimizer_is_registered() -> None:
    assert set(OPTIMIZERS) == set(OptimizerName)
    for name, info in OPTIMIZERS.items():
        assert info.name is name
        assert info.label
        assert info.description.endswith(".")


@pytest.mark.parametrize("name", list(OptimizerName))
def test_params_name_real_spec_fields(name: OptimizerName) -> None:
    params = OPTIMIZERS[name].params
    assert params[0] == "lr"
    assert len(set(params)) == len(params)
    assert set(params) <= set(OptimizerSpec.model_fields) - {"name"}


def test_params_match_the_brief() -> None:
    assert OPTIMIZERS[OptimizerName.sgd].params == ("lr", "momentum", "nesterov", "weight_decay")
    assert OPTIMIZERS[OptimizerName.adam].params == ("lr", "beta1", "beta2", "weight_decay")
    assert OPTIMIZERS[OptimizerName.rmsprop].params == ("lr", "alpha", "momentum", "weight_decay")
    assert OPTIMIZERS[OptimizerName.adadelta].params == ("lr", "rho", "weight_decay")
    assert OPTIMIZERS[OptimizerName.adagrad].params == ("lr", "weight_decay")


def _spec_with_every_field_off_default(name: OptimizerName) -> OptimizerSpec:
    return OptimizerSpec(
        name=name,
        lr=0.07,
        momentum=0.5,
        nesterov=name is OptimizerName.sgd,
        weight_decay=0.01,
        beta1=0.8,
        beta2=0.95,
        alpha=0.9,
        rho=0.8,
    )


@pytest.mark.parametrize("name", list(OptimizerName))
def test_build_optimizer_passes_the_fields_it_lists(name: OptimizerName) -> None:
    spec = _spec_with_every_field_off_default(name)
    optimizer = build_optimizer(spec, nn.Linear(2, 1).parameters())
    assert type(optimizer) is TORCH_CLASSES[name]
    group = optimizer.param_groups[0]
    expected = {
        "lr": ("lr", 0.07),
        "momentum": ("momentum", 0.5),
        "nesterov": ("nesterov", True),
        "weight_decay": ("weight_decay", 0.01),
        "alpha": ("alpha", 0.9),
        "rho": ("rho", 0.8),
    }
    for field in OPTIMIZERS[name].params:
        if field in ("beta1", "beta2"):
            assert group["betas"] == (0.8, 0.95)
        else:
            key, value = expected[field]
            assert group[key] == pytest.approx(value)


# lr per optimizer for the descent test; Adadelta is meant to run with lr near 1.
DESCENT_LR = {OptimizerName.adadelta: 1.0, OptimizerName.adagrad: 0.1}


@pytest.mark.parametrize("name", list(OptimizerName))
def test_optimizer_lowers_a_regression_loss(name: OptimizerName) -> None:
    torch.manual_seed(0)
    x = torch.randn(64, 3)  # (m, 3)
    y = x @ torch.tensor([[1.5], [-2.0], [0.5]]) + 0.3  # (m, 1)
    model = nn.Linear(3, 1)
    spec = OptimizerSpec(name=name, lr=DESCENT_LR.get(name, 0.03))
    optimizer = build_optimizer(spec, model.parameters())

    def loss() -> torch.Tensor:
        return nn.functional.mse_loss(model(x), y)

    start = loss().item()
    for _ in range(100):
        optimizer.zero_grad()
        loss().backward()
        optimizer.step()
    assert loss().item() < 0.9 * start


def test_sgd_with_nesterov_momentum_builds() -> None:
    spec = OptimizerSpec(name=OptimizerName.sgd, momentum=0.9, nesterov=True)
    optimizer = build_optimizer(spec, nn.Linear(2, 1).parameters())
    assert optimizer.param_groups[0]["nesterov"] is True


def test_set_learning_rate_changes_every_group_and_the_next_step() -> None:
    first, second = nn.Linear(2, 1), nn.Linear(2, 1)
    optimizer = build_optimizer(OptimizerSpec(lr=0.1), first.parameters())
    optimizer.add_param_group({"params": second.parameters()})
    set_learning_rate(optimizer, 1e-3)
    assert [g["lr"] for g in optimizer.param_groups] == [1e-3, 1e-3]

    # The step taken is lr * gradient with plain SGD.
    weight = nn.Parameter(torch.tensor([1.0]))
    optimizer = build_optimizer(OptimizerSpec(lr=0.1), [weight])
    set_learning_rate(optimizer, 0.5)
    optimizer.zero_grad()
    (2.0 * weight).sum().backward()  # gradient 2
    optimizer.step()
    assert weight.item() == pytest.approx(1.0 - 0.5 * 2.0)


@pytest.mark.parametrize("lr", [0.0, -0.1, float("nan"), float("inf")])
def test_set_learning_rate_refuses_bad_values(lr: float) -> None:
    optimizer = build_optimizer(OptimizerSpec(), nn.Linear(2, 1).parameters())
    with pytest.raises(ValueError, match="learning rate"):
        set_learning_rate(optimizer, lr)
