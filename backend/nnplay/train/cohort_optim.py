"""Vectorised optimizer steps for a cohort: every member's update in one pass per weight.

Each rule mirrors torch's single-tensor implementation of the optimizer the solo run
builds (`nnplay.train.optimizers`), op for op, with the hyperparameters as per-member
tensors: coefficients are computed in float64 (as torch computes its Python floats)
and cast to float32 once, so a member's weights follow its solo run within rounding.
State is named as in torch's optimizer state dict, so a member's state moves between
a cohort and a solo `torch.optim` optimizer intact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from nnplay.spec import OptimizerName, OptimizerSpec

# Per-member hyperparameters, shape (M,) float64: OptimizerSpec fields plus `lr`.
Hypers = dict[str, Tensor]
# Per-member coefficients of one step, float32, shaped to broadcast against a weight.
Coefficients = dict[str, Tensor]

HYPER_FIELDS = ("lr", "momentum", "nesterov", "weight_decay", "beta1", "beta2", "alpha", "rho")
# torch's defaults for what the spec does not set.
ADAM_EPS, NADAM_MOMENTUM_DECAY = 1e-8, 4e-3
RMSPROP_EPS, ADADELTA_EPS, ADAGRAD_EPS = 1e-8, 1e-6, 1e-10


def hyper_row(spec: OptimizerSpec, lr: float) -> dict[str, float]:
    """One member's hyperparameters as numbers (`nesterov` as 0 or 1)."""
    return {"lr": lr, "momentum": spec.momentum, "nesterov": float(spec.nesterov),
            "weight_decay": spec.weight_decay, "beta1": spec.beta1, "beta2": spec.beta2,
            "alpha": spec.alpha, "rho": spec.rho}


@dataclass(frozen=True)
class StackedRule:
    """One optimizer's vectorised step and the state it keeps."""

    name: OptimizerName
    slots: tuple[str, ...]  # per-weight state, torch's names ("exp_avg", ...)
    scalars: tuple[str, ...]  # per-member state torch keeps per weight ("step", ...)
    # (hypers, scalars) -> coefficients (M,) float32; updates `scalars` in place
    prepare: Callable[[Hypers, dict[str, Tensor]], Coefficients]
    # (weight, grad, slots, coefficients shaped to the weight) -> None, in place
    apply: Callable[[Tensor, Tensor, dict[str, Tensor], Coefficients], None]
    # which slots torch's state dict holds for a member with these hyperparameters
    kept: Callable[[dict[str, float]], tuple[str, ...]] = lambda hyper: ()


def _f32(values: dict[str, Tensor]) -> Coefficients:
    return {name: value.to(torch.float32) for name, value in values.items()}


def _decay(p: Tensor, g: Tensor, c: Coefficients) -> Tensor:
    return g.addcmul(p, c["weight_decay"])  # grad + wd * p (exact when wd is 0)


# ----- SGD (momentum, Nesterov) ----------------------------------------------------------
def _sgd_prepare(h: Hypers, s: dict[str, Tensor]) -> Coefficients:
    return _f32({"neg_lr": -h["lr"], "momentum": h["momentum"], "nesterov": h["nesterov"],
                 "weight_decay": h["weight_decay"]})


def _sgd_apply(p: Tensor, g: Tensor, slots: dict[str, Tensor], c: Coefficients) -> None:
    g = _decay(p, g, c)
    buf = slots["momentum_buffer"]
    buf.mul_(c["momentum"]).add_(g)  # a fresh buffer is zeros: its first value is g
    g = torch.where(c["nesterov"] > 0, g.addcmul(buf, c["momentum"]), buf)
    p.addcmul_(g, c["neg_lr"])


# ----- Adam, AdamW -----------------------------------------------------------------------
def _adam_prepare(h: Hypers, s: dict[str, Tensor], decoupled: bool = False) -> Coefficients:
    s["step"] += 1
    step = s["step"].to(torch.float64)
    coefficients = {
        "neg_step_size": -h["lr"] / (1 - h["beta1"] ** step),
        "bc2_sqrt": (1 - h["beta2"] ** step) ** 0.5,
        "one_minus_beta1": 1 - h["beta1"], "beta2": h["beta2"],
        "one_minus_beta2": 1 - h["beta2"], "weight_decay": h["weight_decay"],
        "shrink": 1 - h["lr"] * h["weight_decay"],
    }
    if decoupled:
        coefficients["weight_decay"] = torch.zeros_like(h["weight_decay"])
    return _f32(coefficients)


def _adam_apply(p: Tensor, g: Tensor, slots: dict[str, Tensor], c: Coefficients,
                decoupled: bool = False) -> None:
    if decoupled:
        p.mul_(c["shrink"])
    else:
        g = _decay(p, g, c)
    exp_avg, exp_avg_sq = slots["exp_avg"], slots["exp_avg_sq"]
    exp_avg.lerp_(g, c["one_minus_beta1"])
    exp_avg_sq.mul_(c["beta2"]).addcmul_(g * c["one_minus_beta2"], g)
    denom = (exp_avg_sq.sqrt() / c["bc2_sqrt"]).add_(ADAM_EPS)
    p.addcmul_(exp_avg / denom, c["neg_step_size"])


def _adamw_prepare(h: Hypers, s: dict[str, Tensor]) -> Coefficients:
    return _adam_prepare(h, s, decoupled=True)


def _adamw_apply(p: Tensor, g: Tensor, slots: dict[str, Tensor], c: Coefficients) -> None:
    _adam_apply(p, g, slots, c, decoupled=True)


# ----- NAdam -----------------------------------------------------------------------------
def _nadam_prepare(h: Hypers, s: dict[str, Tensor]) -> Coefficients:
    s["step"] += 1
    step = s["step"].to(torch.float64)
    beta1 = h["beta1"]
    mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * NADAM_MOMENTUM_DECAY)))
    mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * NADAM_MOMENTUM_DECAY)))
    s["mu_product"] *= mu.to(torch.float32)  # torch keeps the product in float32
    product = s["mu_product"].to(torch.float64)
    product_next = product * mu_next
    return _f32({
        "bias_correction2": 1 - h["beta2"] ** step, "weight_decay": h["weight_decay"],
        "one_minus_beta1": 1 - beta1, "beta2": h["beta2"], "one_minus_beta2": 1 - h["beta2"],
        "grad_coef": -h["lr"] * (1.0 - mu) / (1.0 - product),
        "avg_coef": (-h["lr"] * mu_next) / (1.0 - product_next),
    })


def _nadam_apply(p: Tensor, g: Tensor, slots: dict[str, Tensor], c: Coefficients) -> None:
    g = _decay(p, g, c)
    exp_avg, exp_avg_sq = slots["exp_avg"], slots["exp_avg_sq"]
    exp_avg.lerp_(g, c["one_minus_beta1"])
    exp_avg_sq.mul_(c["beta2"]).addcmul_(g * c["one_minus_beta2"], g)
    denom = exp_avg_sq.div(c["bias_correction2"]).sqrt().add_(ADAM_EPS)
    p.addcmul_(g / denom, c["grad_coef"])
    p.addcmul_(exp_avg / denom, c["avg_coef"])


# ----- RMSprop, Adadelta, Adagrad ------------------------------------------------------
def _rmsprop_prepare(h: Hypers, s: dict[str, Tensor]) -> Coefficients:
    s["step"] += 1
    return _f32({"alpha": h["alpha"], "one_minus_alpha": 1 - h["alpha"],
                 "momentum": h["momentum"], "neg_lr": -h["lr"],
                 "weight_decay": h["weight_decay"]})


def _rmsprop_apply(p: Tensor, g: Tensor, slots: dict[str, Tensor], c: Coefficients) -> None:
    g = _decay(p, g, c)
    square_avg, buf = slots["square_avg"], slots["momentum_buffer"]
    square_avg.mul_(c["alpha"]).addcmul_(g * c["one_minus_alpha"], g)
    avg = square_avg.sqrt().add_(RMSPROP_EPS)
    buf.mul_(c["momentum"]).add_(g / avg)  # without momentum: exactly g / avg
    p.addcmul_(buf, c["neg_lr"])


def _adadelta_prepare(h: Hypers, s: dict[str, Tensor]) -> Coefficients:
    s["step"] += 1
    return _f32({"rho": h["rho"], "one_minus_rho": 1 - h["rho"], "neg_lr": -h["lr"],
                 "weight_decay": h["weight_decay"]})


def _adadelta_apply(p: Tensor, g: Tensor, slots: dict[str, Tensor], c: Coefficients) -> None:
    g = _decay(p, g, c)
    square_avg, acc_delta = slots["square_avg"], slots["acc_delta"]
    square_avg.mul_(c["rho"]).addcmul_(g * c["one_minus_rho"], g)
    std = square_avg.add(ADADELTA_EPS).sqrt_()
    delta = acc_delta.add(ADADELTA_EPS).sqrt_().div_(std).mul_(g)
    acc_delta.mul_(c["rho"]).addcmul_(delta * c["one_minus_rho"], delta)
    p.addcmul_(delta, c["neg_lr"])


def _adagrad_prepare(h: Hypers, s: dict[str, Tensor]) -> Coefficients:
    s["step"] += 1  # lr_decay is 0: the step count does not change the rate
    return _f32({"neg_lr": -h["lr"], "weight_decay": h["weight_decay"]})


def _adagrad_apply(p: Tensor, g: Tensor, slots: dict[str, Tensor], c: Coefficients) -> None:
    g = _decay(p, g, c)
    state_sum = slots["sum"]
    state_sum.addcmul_(g, g)
    std = state_sum.sqrt().add_(ADAGRAD_EPS)
    p.addcmul_(g / std, c["neg_lr"])


def _with_momentum(hyper: dict[str, float]) -> tuple[str, ...]:
    return ("momentum_buffer",) if hyper["momentum"] > 0 else ()


_ADAM_SLOTS = ("exp_avg", "exp_avg_sq")

STACKED_RULES: dict[OptimizerName, StackedRule] = {
    rule.name: rule
    for rule in (
        StackedRule(OptimizerName.sgd, ("momentum_buffer",), (), _sgd_prepare, _sgd_apply,
                    _with_momentum),
        StackedRule(OptimizerName.adam, _ADAM_SLOTS, ("step",), _adam_prepare, _adam_apply,
                    lambda hyper: _ADAM_SLOTS),
        StackedRule(OptimizerName.adamw, _ADAM_SLOTS, ("step",), _adamw_prepare,
                    _adamw_apply, lambda hyper: _ADAM_SLOTS),
        StackedRule(OptimizerName.nadam, _ADAM_SLOTS, ("step", "mu_product"), _nadam_prepare,
                    _nadam_apply, lambda hyper: _ADAM_SLOTS),
        StackedRule(OptimizerName.rmsprop, ("square_avg", "momentum_buffer"), ("step",),
                    _rmsprop_prepare, _rmsprop_apply,
                    lambda hyper: ("square_avg", *_with_momentum(hyper))),
        StackedRule(OptimizerName.adadelta, ("square_avg", "acc_delta"), ("step",),
                    _adadelta_prepare, _adadelta_apply,
                    lambda hyper: ("square_avg", "acc_delta")),
        StackedRule(OptimizerName.adagrad, ("sum",), ("step",), _adagrad_prepare,
                    _adagrad_apply, lambda hyper: ("sum",)),
    )
}
SCALAR_START = {"step": 0.0, "mu_product": 1.0}  # a fresh optimizer's per-member state


def shaped(coefficients: Coefficients, ndim: int) -> Coefficients:
    """Coefficients (M,) viewed as (M, 1, ...) to broadcast against a weight of `ndim` dims."""
    tail = (1,) * (ndim - 1)
    return {name: value.view(-1, *tail) for name, value in coefficients.items()}


__all__ = ["HYPER_FIELDS", "SCALAR_START", "STACKED_RULES", "StackedRule", "hyper_row",
           "shaped"]
