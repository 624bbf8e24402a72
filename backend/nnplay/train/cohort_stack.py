"""The stacked layout cohorts share: flat weight rows, vectorised optimizers, dense forward.

A cohort engine (`nnplay.train.cohort.Cohort`, `nnplay.train.gan_cohort.GanCohort`)
keeps every per-member tensor in one table `{name: (M, ...)}`. This module owns how a
network's weights sit in one flat row of that table (`FlatLayout`), how one network's
optimizer state and hyperparameters become rows and come back out in torch's
optimizer `state_dict()` format (`StackedOptimizer`, the step being
`nnplay.train.cohort_optim`'s), how rows join and leave the table, and the batched
forward of a dense stack (`torch.baddbmm`).
"""

from __future__ import annotations

import copy
import math
from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterable, Sequence
from typing import Any, Generic, TypeVar

import numpy as np
import torch
from torch import Tensor, nn

from nnplay.spec import ExperimentSpec, OptimizerSpec
from nnplay.train.cohort_key import cohort_key, cohort_refusal
from nnplay.train.cohort_optim import (
    HYPER_FIELDS,
    SCALAR_START,
    STACKED_RULES,
    hyper_row,
    shaped,
)
from nnplay.train.optimizers import build_optimizer

Table = dict[str, Tensor]  # name -> (M, ...) per-member rows
MemberId = Hashable
Info = TypeVar("Info")  # what an engine keeps of a member outside the table


class FlatLayout:
    """Where each weight of a network sits in its flat row `(P,)`: names, shapes, offsets."""

    def __init__(self, named: Iterable[tuple[str, Tensor]]) -> None:
        pairs = list(named)
        self.names = [name for name, _ in pairs]
        self.shapes = [tuple(weight.shape) for _, weight in pairs]
        self.offsets = [0]
        for shape in self.shapes:
            self.offsets.append(self.offsets[-1] + math.prod(shape))

    def __len__(self) -> int:
        return len(self.names)

    def split(self, flat: Tensor) -> list[Tensor]:
        """Views of flat rows `(M, P)` (or one row `(P,)`) as each weight's shape."""
        lead = flat.shape[:-1]
        return [flat[..., start:stop].view(*lead, *shape) for start, stop, shape in
                zip(self.offsets, self.offsets[1:], self.shapes, strict=False)]

    def flat_grads(self, grads: Sequence[Tensor]) -> Tensor:
        """Per-weight gradients `(M, *shape)` joined into flat rows `(M, P)`."""
        return torch.cat([g.reshape(g.shape[0], -1) for g in grads], dim=1)

    def state(self, row: Tensor) -> dict[str, Tensor]:
        """One flat row as a state dict (views: copy them)."""
        return dict(zip(self.names, self.split(row), strict=True))


class StackedOptimizer:
    """One network's vectorised optimizer over the table rows named `{prefix}...`."""

    def __init__(self, spec: OptimizerSpec, layout: FlatLayout, prefix: str = "") -> None:
        self.rule = STACKED_RULES[spec.name]
        self.layout = layout
        self.prefix = prefix
        self.weights = f"{prefix}param"  # the table entry of the flat weight rows

    @property
    def lr(self) -> str:
        """The table entry of the per-member learning rates."""
        return f"{self.prefix}hyper.lr"

    def row(self, spec: OptimizerSpec, lr: float, weights: Tensor,
            saved: dict[int, dict[str, Any]] | None) -> Table:
        """One member's rows: flat weights `(P,)`, slots, scalars and hyperparameters,
        from a torch optimizer's `state_dict()["state"]` (None: a fresh optimizer)."""
        p, saved = self.prefix, saved or {}
        row: Table = {self.weights: weights}
        sizes = [b - a for a, b in zip(self.layout.offsets, self.layout.offsets[1:],
                                       strict=False)]
        for slot in self.rule.slots:
            row[f"{p}slot.{slot}"] = torch.cat([
                saved[i][slot].detach().to(torch.float32).flatten()
                if slot in saved.get(i, {}) else torch.zeros(size)
                for i, size in enumerate(sizes)])
        for scalar in self.rule.scalars:
            value = saved.get(0, {}).get(scalar)
            row[f"{p}scalar.{scalar}"] = torch.tensor(
                float(value) if value is not None else SCALAR_START[scalar])
        for name, number in hyper_row(spec, lr).items():
            row[f"{p}hyper.{name}"] = torch.tensor(number, dtype=torch.float64)
        return row

    def export(self, row: Table, spec: OptimizerSpec) -> dict[str, Any]:
        """A member's optimizer as torch's `state_dict()` (`row`: its rows, copied)."""
        p = self.prefix
        lr = float(row[self.lr])
        slots = {slot: self.layout.split(row[f"{p}slot.{slot}"]) for slot in self.rule.slots}
        kept = self.rule.kept(hyper_row(spec, lr))
        stepped = (float(row[f"{p}scalar.step"]) > 0 if f"{p}scalar.step" in row
                   else bool(row[f"{p}slot.momentum_buffer"].any()))  # none before a step
        state: dict[int, dict[str, Tensor]] = {}
        for j in range(len(self.layout)):
            entry = {scalar: row[f"{p}scalar.{scalar}"].to(torch.float32).clone()
                     for scalar in self.rule.scalars}
            entry.update({slot: slots[slot][j].clone() for slot in kept})
            if entry and (stepped or "sum" in entry):
                state[j] = entry
        params = [nn.Parameter(w.clone()) for w in self.layout.split(row[self.weights])]
        groups = build_optimizer(spec, params).state_dict()["param_groups"]
        for group in groups:
            group["lr"] = lr
        return {"state": state, "param_groups": copy.deepcopy(groups)}

    def step(self, table: Table, grads: Tensor) -> None:
        """Update every member's weight rows in place from flat gradients `(M, P)`."""
        rule, p = self.rule, self.prefix
        scalars = {name: table[f"{p}scalar.{name}"] for name in rule.scalars}
        hypers = {name: table[f"{p}hyper.{name}"] for name in HYPER_FIELDS}
        coefficients = rule.prepare(hypers, scalars)
        slots = {slot: table[f"{p}slot.{slot}"] for slot in rule.slots}
        with torch.no_grad():
            rule.apply(table[self.weights], grads, slots, shaped(coefficients, 2))


def dense_forward(h: Tensor, weights: Sequence[Tensor], activations: Sequence[nn.Module],
                  keep: bool = False) -> tuple[Tensor, list[Tensor]]:
    """A stacked dense stack: `(M, B, f)` -> `(M, B, out)`, and each hidden layer's
    post-activation `(M, B, units)` where `keep`; `weights` alternate weight `(M, o, i)`
    and bias `(M, o)`, the output layer last (no activation)."""
    last = len(weights) // 2 - 1
    hidden: list[Tensor] = []
    for layer in range(last + 1):
        weight, bias = weights[2 * layer], weights[2 * layer + 1]
        h = torch.baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2))
        if layer < last:
            h = activations[layer](h)
            if keep:
                hidden.append(h)
    return h, hidden


def stack_table(rows: Sequence[Table]) -> Table:
    """Members' rows stacked into a table."""
    return {name: torch.stack([row[name] for row in rows]) for name in rows[0]}


def append_table(table: Table, rows: Sequence[Table]) -> Table:
    """`table` with members' rows added at the end."""
    stacked = stack_table(rows)
    if not table:
        return stacked
    return {name: torch.cat([table[name].detach(), stacked[name]]) for name in table}


def keep_table(table: Table, keep: Sequence[int]) -> Table:
    """`table` with only the rows `keep`, in that order."""
    index = torch.tensor(list(keep), dtype=torch.long)
    return {name: value.detach().index_select(0, index) for name, value in table.items()}


class MemberRows(ABC, Generic[Info]):
    """Members in row order: their ids, table rows, run steps and training seconds.

    An engine builds and exports a member's rows; joining and leaving are shared.
    """

    key: Hashable | None = None  # the members' `cohort_key`

    def __init__(self) -> None:
        self._ids: list[MemberId] = []
        self._members: dict[MemberId, Info] = {}
        self._rows: Table = {}
        self._steps = np.zeros(0, dtype=np.int64)  # each member's run step
        self.elapsed = np.zeros(0, dtype=np.float64)  # each member's training seconds

    @property
    def ids(self) -> tuple[MemberId, ...]:
        """The members in row order."""
        return tuple(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, member: object) -> bool:
        return member in self._members

    def step_of(self, member: MemberId) -> int:
        """A member's run step (its solo trainer's `step`)."""
        return int(self._steps[self._ids.index(member)])

    def rows_of(self, members: Sequence[MemberId]) -> Tensor:
        """The row indices `(k,)` of `members`."""
        where = {member: i for i, member in enumerate(self._ids)}
        return torch.tensor([where[member] for member in members], dtype=torch.long)

    @abstractmethod
    def add_many(self, members: Sequence[tuple[MemberId, ExperimentSpec,
                                              dict[str, Any] | None]]) -> None:
        """Add members at a step boundary, each as its solo run starts or continues."""

    @abstractmethod
    def export_state(self, member: MemberId) -> dict[str, Any]:
        """A member's state in its solo trainer's `state_dict()` format."""

    @abstractmethod
    def _drop(self, indices: Sequence[int]) -> None:
        """Drop the rows at `indices` (`_keep` and whatever else the engine keeps)."""

    def add(self, member: MemberId, spec: ExperimentSpec,
            state: dict[str, Any] | None = None) -> None:
        """Add one member at a step boundary (from scratch, or a solo `state_dict()`)."""
        self.add_many([(member, spec, state)])

    def remove(self, member: MemberId) -> dict[str, Any]:
        """Take a member out at a step boundary; returns its solo `state_dict()`."""
        state = self.export_state(member)
        self._drop([self._ids.index(member)])
        return state

    def _check_new(self, member: MemberId, spec: ExperimentSpec) -> None:
        """Refuse a member already here, or one whose spec has another structure."""
        if member in self._members:
            raise ValueError(f"member {member!r} is already in this cohort")
        if cohort_key(spec) != self.key:
            raise ValueError(f"member {member!r} has another structure "
                             f"({cohort_refusal(spec) or 'its cohort key differs'})")

    def _append(self, joining: Sequence[tuple[MemberId, Table, Info, int, float]]) -> None:
        """Add members' (id, rows, info, step, elapsed) at the end."""
        for member, _, info, _, _ in joining:
            self._members[member] = info
            self._ids.append(member)
        self._rows = append_table(self._rows, [rows for _, rows, _, _, _ in joining])
        self._steps = np.concatenate(
            [self._steps, np.array([j[3] for j in joining], dtype=np.int64)])
        self.elapsed = np.concatenate(
            [self.elapsed, np.array([j[4] for j in joining], dtype=np.float64)])

    def _keep(self, indices: Sequence[int]) -> list[int]:
        """Drop the rows at `indices`; returns the rows kept (old indices, in order)."""
        gone = set(indices)
        keep = [i for i in range(len(self._ids)) if i not in gone]
        self._rows = keep_table(self._rows, keep)
        for i in sorted(gone):
            del self._members[self._ids[i]]
        self._ids = [self._ids[i] for i in keep]
        self._steps, self.elapsed = self._steps[keep], self.elapsed[keep]
        return keep


__all__ = ["FlatLayout", "MemberId", "MemberRows", "StackedOptimizer", "Table",
           "append_table", "dense_forward", "keep_table", "stack_table"]
