"""Optimizer registry: every `OptimizerName`, the spec fields it uses, and how to build it."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import Tensor

from nnplay.spec import OptimizerName, OptimizerSpec


@dataclass(frozen=True)
class OptimizerInfo:
    """One optimizer: spec name, page label, one-sentence description and the fields it uses."""

    name: OptimizerName
    label: str
    description: str
    params: tuple[str, ...]  # OptimizerSpec field names; the page shows only these
    make: Callable[[OptimizerSpec, list[Tensor]], torch.optim.Optimizer]


def _sgd(spec: OptimizerSpec, params: list[Tensor]) -> torch.optim.Optimizer:
    return torch.optim.SGD(
        params,
        lr=spec.lr,
        momentum=spec.momentum,
        nesterov=spec.nesterov,
        weight_decay=spec.weight_decay,
    )


def _adagrad(spec: OptimizerSpec, params: list[Tensor]) -> torch.optim.Optimizer:
    return torch.optim.Adagrad(params, lr=spec.lr, weight_decay=spec.weight_decay)


def _adadelta(spec: OptimizerSpec, params: list[Tensor]) -> torch.optim.Optimizer:
    return torch.optim.Adadelta(params, lr=spec.lr, rho=spec.rho, weight_decay=spec.weight_decay)


def _rmsprop(spec: OptimizerSpec, params: list[Tensor]) -> torch.optim.Optimizer:
    return torch.optim.RMSprop(
        params,
        lr=spec.lr,
        alpha=spec.alpha,
        momentum=spec.momentum,
        weight_decay=spec.weight_decay,
    )


def _adam(spec: OptimizerSpec, params: list[Tensor]) -> torch.optim.Optimizer:
    betas = (spec.beta1, spec.beta2)
    return torch.optim.Adam(params, lr=spec.lr, betas=betas, weight_decay=spec.weight_decay)


def _adamw(spec: OptimizerSpec, params: list[Tensor]) -> torch.optim.Optimizer:
    betas = (spec.beta1, spec.beta2)
    return torch.optim.AdamW(params, lr=spec.lr, betas=betas, weight_decay=spec.weight_decay)


def _nadam(spec: OptimizerSpec, params: list[Tensor]) -> torch.optim.Optimizer:
    betas = (spec.beta1, spec.beta2)
    return torch.optim.NAdam(params, lr=spec.lr, betas=betas, weight_decay=spec.weight_decay)


_ADAM_PARAMS = ("lr", "beta1", "beta2", "weight_decay")

OPTIMIZERS: dict[OptimizerName, OptimizerInfo] = {
    info.name: info
    for info in (
        OptimizerInfo(
            OptimizerName.sgd,
            "SGD",
            "Stochastic gradient descent, optionally with (Nesterov) momentum.",
            ("lr", "momentum", "nesterov", "weight_decay"),
            _sgd,
        ),
        OptimizerInfo(
            OptimizerName.adagrad,
            "Adagrad",
            "Scales each weight's step down by the sum of its past squared gradients.",
            ("lr", "weight_decay"),
            _adagrad,
        ),
        OptimizerInfo(
            OptimizerName.adadelta,
            "Adadelta",
            "Adagrad with decaying averages of squared gradients and updates (lr near 1 suits it).",
            ("lr", "rho", "weight_decay"),
            _adadelta,
        ),
        OptimizerInfo(
            OptimizerName.rmsprop,
            "RMSprop",
            "Divides each step by a moving average of recent squared gradients.",
            ("lr", "alpha", "momentum", "weight_decay"),
            _rmsprop,
        ),
        OptimizerInfo(
            OptimizerName.adam,
            "Adam",
            "Momentum plus per-weight step sizes from running gradient moments.",
            _ADAM_PARAMS,
            _adam,
        ),
        OptimizerInfo(
            OptimizerName.adamw,
            "AdamW",
            "Adam with weight decay applied directly to the weights instead of the gradient.",
            _ADAM_PARAMS,
            _adamw,
        ),
        OptimizerInfo(
            OptimizerName.nadam,
            "NAdam",
            "Adam with Nesterov-style look-ahead momentum.",
            _ADAM_PARAMS,
            _nadam,
        ),
    )
}


def build_optimizer(spec: OptimizerSpec, params: Iterable[Tensor]) -> torch.optim.Optimizer:
    """Build the torch optimizer named by `spec` over `params` with the spec's hyperparameters."""
    return OPTIMIZERS[spec.name].make(spec, list(params))


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set the learning rate of every parameter group of `optimizer`, effective next step."""
    if not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"learning rate must be a positive number (got {lr!r})")
    for group in optimizer.param_groups:
        group["lr"] = lr
