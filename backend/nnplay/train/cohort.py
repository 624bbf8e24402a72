"""A cohort: many runs whose specs share a structural key, trained as one stacked model.

Every per-member tensor (weights, optimizer state, hyperparameters, data, shuffle
order) is stacked on a leading member axis M and kept in one table of rows, so a
member joins or leaves at a step boundary by concatenating or dropping its row.
One `step()` draws each member's batch exactly as its solo `Trainer` would (its own
seeded generator), runs one batched forward (`torch.baddbmm`) and backward of the
summed member losses, and one vectorised optimizer step with per-member
hyperparameters (`nnplay.train.cohort_optim`). A member's state moves in and out in
the solo trainer's `state_dict()` format, so a run can go solo <-> cohort intact.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from nnplay.data import Dataset, build_dataset
from nnplay.models.activations import ACTIVATIONS
from nnplay.models.network import Network
from nnplay.spec import DenseLayer, ExperimentSpec
from nnplay.train.cohort_key import cohort_key, cohort_refusal
from nnplay.train.cohort_loss import member_losses
from nnplay.train.cohort_optim import (
    HYPER_FIELDS,
    SCALAR_START,
    STACKED_RULES,
    hyper_row,
    shaped,
)
from nnplay.train.heads import Head, make_head
from nnplay.train.loop import BUILD_LOCK
from nnplay.train.optimizers import build_optimizer
from nnplay.train.probes import ProbeLook, probe_row

MemberId = Hashable


@dataclass(frozen=True)
class CohortStep:
    """What one cohort step gave: each member's loss, and the members that diverged."""

    ids: tuple[MemberId, ...]  # the members that stepped, in row order
    losses: Tensor  # (M,) float32, each member's loss (with its L1/L2 penalty), as solo
    diverged: dict[MemberId, str]  # member -> the solo run's failure reason; they have left


@dataclass(frozen=True)
class CohortMetrics:
    """Every member's loss and accuracy on its whole train and test sets, as `(M,)` tensors
    (`Trainer.evaluate()` batched; no L1/L2; accuracies None for regression, test
    figures None without a test set)."""

    ids: tuple[MemberId, ...]
    train_loss: Tensor
    test_loss: Tensor | None
    train_accuracy: Tensor | None
    test_accuracy: Tensor | None
    # With `evaluate(confusion=True)` on classification: each member's confusion matrix
    # (M, k, k) int64 over its test set (its train set without one), as the solo
    # detailed point's class report counts it.
    confusion: Tensor | None = None


@dataclass
class _Member:
    """What a member keeps outside the stacked rows."""

    spec: ExperimentSpec
    shuffle: torch.Generator  # its solo run's batch-order generator
    look: ProbeLook  # its frames' fields beside the pixels


class Cohort:
    """Members sharing one `cohort_key`, trained together one batched step at a time."""

    def __init__(self, spec: ExperimentSpec, grid_size: int = 64,
                 neuron_grid_size: int = 16) -> None:
        refusal = cohort_refusal(spec)
        if refusal is not None:
            raise ValueError(f"this spec cannot join a cohort: {refusal}")
        self.key = cohort_key(spec)
        self.rule = STACKED_RULES[spec.optimizer.name]
        self.loss = spec.loss
        self.n_train = spec.train_size
        self.full_batch = spec.batch_size >= self.n_train
        self.batch = self.n_train if self.full_batch else spec.batch_size
        self.ragged = not self.full_batch and self.n_train % self.batch != 0
        self.grid_sizes = (grid_size, neuron_grid_size)  # the probes' (boundary, neurons)
        self._ids: list[MemberId] = []
        self._members: dict[MemberId, _Member] = {}
        self._rows: dict[str, Tensor] = {}
        self._steps = np.zeros(0, dtype=np.int64)  # each member's run step
        self._cursors = np.zeros(0, dtype=np.int64)  # each member's place in its order
        self.elapsed = np.zeros(0, dtype=np.float64)  # each member's training seconds
        with torch.random.fork_rng(devices=[]):  # a template: names and the head only
            template, self.head, dataset = self._network(spec)
        self.n_classes = dataset.n_classes  # 0 for regression
        self._names = [name for name, _ in template.named_parameters()]
        self._activations: list[nn.Module] = [
            ACTIVATIONS[layer.activation].make() for layer in spec.model.layers
            if isinstance(layer, DenseLayer)]  # every layer (cohort_refusal said so)
        self._n_weights = len(self._names)
        # All of a member's weights live in one flat row (M, P): the optimizer then takes
        # a handful of ops per step, not a handful per weight tensor. (name, offset, shape)
        self._shapes = [tuple(p.shape) for p in template.parameters()]
        self._offsets = [0]
        for shape in self._shapes:
            self._offsets.append(self._offsets[-1] + math.prod(shape))

    # ----- membership -----------------------------------------------------------------
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

    def lr_of(self, member: MemberId) -> float:
        """A member's current learning rate."""
        return float(self._rows["hyper.lr"][self._ids.index(member)])

    def add(self, member: MemberId, spec: ExperimentSpec,
            state: dict[str, Any] | None = None) -> None:
        """Add one member at a step boundary (from scratch, or a solo `state_dict()`)."""
        self.add_many([(member, spec, state)])

    def add_many(self, members: Sequence[tuple[MemberId, ExperimentSpec,
                                              dict[str, Any] | None]]) -> None:
        """Add members at a step boundary, each as its solo run starts or continues."""
        rows: list[dict[str, Tensor]] = []
        steps, cursors, elapsed = [], [], []
        for member, spec, state in members:
            if member in self._members:
                raise ValueError(f"member {member!r} is already in this cohort")
            if cohort_key(spec) != self.key:
                raise ValueError(f"member {member!r} has another structure "
                                 f"({cohort_refusal(spec) or 'its cohort key differs'})")
            row, member_state = self._row(spec, state)
            rows.append(row)
            self._members[member] = member_state
            self._ids.append(member)
            steps.append(int(state["step"]) if state else 0)
            cursors.append(int(state["cursor"]) if state else self.n_train)
            elapsed.append(float(state["elapsed"]) if state else 0.0)
        stacked = {name: torch.stack([row[name] for row in rows]) for name in rows[0]}
        self._rows = stacked if not self._rows else {
            name: torch.cat([self._rows[name].detach(), stacked[name]])
            for name in self._rows}
        self._steps = np.concatenate([self._steps, np.array(steps, dtype=np.int64)])
        self._cursors = np.concatenate([self._cursors, np.array(cursors, dtype=np.int64)])
        self.elapsed = np.concatenate([self.elapsed, np.array(elapsed, dtype=np.float64)])
        self._leaf_weights()

    def remove(self, member: MemberId) -> dict[str, Any]:
        """Take a member out at a step boundary; returns its solo `state_dict()`."""
        state = self.export_state(member)
        self._drop([self._ids.index(member)])
        return state

    def _drop(self, indices: Sequence[int]) -> None:
        gone = set(indices)
        keep = [i for i in range(len(self._ids)) if i not in gone]
        index = torch.tensor(keep, dtype=torch.long)
        self._rows = {name: value.detach().index_select(0, index)
                      for name, value in self._rows.items()}
        for i in sorted(gone):
            del self._members[self._ids[i]]
        self._ids = [self._ids[i] for i in keep]
        self._steps, self._cursors = self._steps[keep], self._cursors[keep]
        self.elapsed = self.elapsed[keep]
        self._leaf_weights()

    def _leaf_weights(self) -> None:
        self._rows["param"] = self._rows["param"].detach().requires_grad_(True)

    def split(self, flat: Tensor) -> list[Tensor]:
        """Views of flat weight rows `(M, P)` (or one row `(P,)`) as each weight's shape."""
        lead = flat.shape[:-1]
        return [flat[..., start:stop].view(*lead, *shape) for start, stop, shape in
                zip(self._offsets, self._offsets[1:], self._shapes, strict=False)]

    # ----- a member's row: built as its solo trainer builds it ---------------------------
    @staticmethod
    def _network(spec: ExperimentSpec) -> tuple[Network, Head, Dataset]:
        """The member's solo network (the same draws as its trainer's), head and data."""
        dataset = build_dataset(spec)
        head = make_head(spec.task, spec.loss, dataset.n_classes)
        with BUILD_LOCK:
            torch.manual_seed(spec.seed)
            network = Network(spec.model, dataset.n_inputs, head.out_units)
        return network, head, dataset

    def _row(self, spec: ExperimentSpec,
             state: dict[str, Any] | None) -> tuple[dict[str, Tensor], _Member]:
        """One member's stacked-table row, and what it keeps beside it."""
        network, head, dataset = self._network(spec)
        if state is not None:
            network.load_state_dict(state["network"])
        weights = [p.detach().clone() for p in network.parameters()]
        row: dict[str, Tensor] = {"param": torch.cat([w.flatten() for w in weights])}
        lr = float(state["lr"]) if state else spec.optimizer.lr
        saved = state["optimizer"]["state"] if state else {}
        for slot in self.rule.slots:
            row[f"slot.{slot}"] = torch.cat([
                saved[i][slot].detach().to(torch.float32).flatten()
                if slot in saved.get(i, {}) else torch.zeros(w.numel())
                for i, w in enumerate(weights)])
        for scalar in self.rule.scalars:
            value = saved.get(0, {}).get(scalar)
            row[f"scalar.{scalar}"] = torch.tensor(
                float(value) if value is not None else SCALAR_START[scalar])
        hyper = hyper_row(spec.optimizer, lr)
        hyper.update(l1=spec.regularization.l1, l2=spec.regularization.l2)
        for name, number in hyper.items():
            row[f"hyper.{name}"] = torch.tensor(number, dtype=torch.float64)
        row["data.x"] = dataset.x_train  # (n_train, f)
        row["data.t"] = head.targets(dataset.y_train)  # (n_train,) or (n_train, k)
        row["data.y"] = dataset.y_train  # (n_train,) class ids or values
        row["data.x_test"] = dataset.x_test  # (n_test, f)
        row["data.t_test"] = head.targets(dataset.y_test)
        row["data.y_test"] = dataset.y_test
        order = state["order"] if state is not None else torch.empty(0, dtype=torch.long)
        probes, look = probe_row(dataset, *self.grid_sizes)
        row.update(probes)
        row["order"] = order.clone() if order.numel() == self.n_train else \
            torch.zeros(self.n_train, dtype=torch.long)
        shuffle = torch.Generator().manual_seed(spec.seed)
        if state is not None:
            shuffle.set_state(state["shuffle"])
        return row, _Member(spec, shuffle, look)

    # ----- a member's state out, in the solo trainer's format ---------------------------
    def export_state(self, member: MemberId) -> dict[str, Any]:
        """A member's solo `Trainer.state_dict()`: load it into a `Trainer` to go on solo."""
        i = self._ids.index(member)
        info = self._members[member]
        rows = {name: value[i].detach().clone() for name, value in self._rows.items()}
        lr = float(rows["hyper.lr"])
        weights = [w.clone() for w in self.split(rows["param"])]
        slots = {slot: self.split(rows[f"slot.{slot}"]) for slot in self.rule.slots}
        hyper = hyper_row(info.spec.optimizer, lr)
        optimizer_state: dict[int, dict[str, Tensor]] = {}
        for j in range(self._n_weights):
            entry = {f"{scalar}": rows[f"scalar.{scalar}"].to(torch.float32).clone()
                     for scalar in self.rule.scalars}
            entry.update({slot: slots[slot][j].clone()
                          for slot in self.rule.kept(hyper)})
            if entry and (self._stepped(rows) or "sum" in entry):
                optimizer_state[j] = entry
        params = [nn.Parameter(w.clone()) for w in weights]
        groups = build_optimizer(info.spec.optimizer, params).state_dict()["param_groups"]
        for group in groups:
            group["lr"] = lr
        order = torch.empty(0, dtype=torch.long) if self.full_batch else rows["order"]
        return {
            "format": 1, "step": int(self._steps[i]), "elapsed": float(self.elapsed[i]),
            "torch_rng": torch.get_rng_state(), "lr": lr,
            "network": dict(zip(self._names, weights, strict=True)),
            "optimizer": {"state": optimizer_state, "param_groups": copy.deepcopy(groups)},
            "shuffle": info.shuffle.get_state(), "order": order.clone(),
            "cursor": int(self._cursors[i]),
        }

    def weights_of(self, member: MemberId) -> dict[str, Tensor]:
        """A member's weights now, as its solo network's `state_dict()` (views: copy them)."""
        row = self._rows["param"][self._ids.index(member)].detach()
        return dict(zip(self._names, self.split(row), strict=True))

    @property
    def activations(self) -> list[nn.Module]:
        """Each hidden layer's activation, in layer order."""
        return self._activations

    def look_of(self, member: MemberId) -> ProbeLook:
        """A member's frame fields beside the pixels (value range, domain, classes)."""
        return self._members[member].look

    def rows_of(self, members: Sequence[MemberId]) -> Tensor:
        """The row indices `(k,)` of `members`."""
        where = {member: i for i, member in enumerate(self._ids)}
        return torch.tensor([where[member] for member in members], dtype=torch.long)

    def param_rows(self, rows: Tensor) -> Tensor:
        """A copy of the flat weight rows `(k, P)` at `rows`."""
        return self._rows["param"].detach().index_select(0, rows)

    def row_values(self, name: str, rows: Tensor) -> Tensor:
        """Entry `name` of the table at `rows` (a copy): `(k, ...)`."""
        return self._rows[name].index_select(0, rows)

    def probe_points(self, name: str) -> int:
        """How many grid points a probe input ("probe.grid", "probe.neurons") has."""
        return int(self._rows[name].shape[2])  # (M, f, points)

    def _stepped(self, rows: dict[str, Tensor]) -> bool:
        """Whether a member's optimizer has state yet (torch keeps none before a step)."""
        if "scalar.step" in rows:
            return float(rows["scalar.step"]) > 0
        return bool(rows["slot.momentum_buffer"].any())

    # ----- live changes ---------------------------------------------------------------
    def set_lr(self, member: MemberId, lr: float) -> None:
        """Change one member's learning rate, effective from its next step."""
        if not math.isfinite(lr) or lr <= 0:
            raise ValueError(f"learning rate must be a positive number (got {lr!r})")
        self._rows["hyper.lr"][self._ids.index(member)] = lr

    # ----- one step ---------------------------------------------------------------------
    def _batch(self) -> tuple[Tensor, Tensor, Tensor | None]:
        """Each member's next batch, drawn as its solo trainer draws it."""
        x, t = self._rows["data.x"], self._rows["data.t"]  # (M, n, f), (M, n[, k])
        if self.full_batch:
            return x, t, None
        n, orders = self.n_train, self._rows["order"]
        for i in np.flatnonzero(self._cursors >= n):  # a new epoch: the member reshuffles
            orders[i] = torch.randperm(n, generator=self._members[self._ids[i]].shuffle)
            self._cursors[i] = 0
        positions = torch.from_numpy(self._cursors)[:, None] + torch.arange(self.batch)
        mask = None
        if self.ragged:
            mask = (positions < n).to(torch.float32)  # (M, B): the short last batch
            positions = positions.clamp_max(n - 1)
        m = len(self._ids)
        # Rows of the flattened (M * n, ...) data: index_select is far cheaper than
        # advanced indexing on (M, n, ...) with an (M, B) index.
        index = (orders.gather(1, positions) + torch.arange(0, m * n, n)[:, None]).flatten()
        self._cursors += self.batch
        np.minimum(self._cursors, n, out=self._cursors)
        xb = x.reshape(m * n, -1).index_select(0, index).view(m, self.batch, -1)
        tb = t.reshape(m * n, *t.shape[2:]).index_select(0, index)
        return xb, tb.view(m, self.batch, *t.shape[2:]), mask

    def forward(self, x: Tensor, weights: list[Tensor] | None = None) -> Tensor:
        """Every member's network on its own inputs: `(M, B, f)` -> `(M, B, out)`."""
        return self.forward_with_hidden(x, weights, keep=False)[0]

    def forward_with_hidden(self, x: Tensor, weights: list[Tensor] | None = None,
                            keep: bool = True) -> tuple[Tensor, list[Tensor]]:
        """The output `(k, B, out)` and each hidden layer's post-activation `(k, B, units)`
        (as `Network.forward_with_hidden`); `weights` are `split()` rows, else all members'."""
        h = x
        weights = weights or self.split(self._rows["param"])
        last = self._n_weights // 2 - 1
        hidden: list[Tensor] = []
        for layer in range(last + 1):
            weight, bias = weights[2 * layer], weights[2 * layer + 1]
            h = torch.baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2))
            if layer < last:
                h = self._activations[layer](h)
                if keep:
                    hidden.append(h)
        return h, hidden

    def evaluate(self, confusion: bool = False) -> CohortMetrics:
        """Every member's metrics now, as its solo `Trainer.evaluate()` computes them
        (with `confusion`, also the counts of its detailed point's class report)."""
        rows, head = self._rows, self.head
        counts = None
        with torch.no_grad():
            figures: list[tuple[Tensor | None, Tensor | None]] = []
            for x, t, y in (("data.x", "data.t", "data.y"),
                            ("data.x_test", "data.t_test", "data.y_test")):
                if rows[x].shape[1] == 0:
                    figures.append((None, None))
                    continue
                out = self.forward(rows[x])  # (M, n, out)
                loss = member_losses(head, self.loss, out, rows[t])
                accuracy = None
                if self.n_classes:
                    m, n, k = out.shape
                    predicted = head.predict(out.reshape(m * n, k)).view(m, n)
                    accuracy = (predicted == rows[y]).float().mean(dim=1)
                    if confusion:  # the test set's replace the train set's
                        counts = self._confusion(predicted, rows[y])
                figures.append((loss, accuracy))
        (train_loss, train_acc), (test_loss, test_acc) = figures
        assert train_loss is not None  # a cohort's members have training data
        return CohortMetrics(tuple(self._ids), train_loss, test_loss, train_acc, test_acc,
                             counts)

    def _confusion(self, predicted: Tensor, labels: Tensor) -> Tensor:
        """Confusion matrices `(M, k, k)` int64 of predictions and labels `(M, n)`."""
        m, k = predicted.shape[0], self.n_classes
        member = torch.arange(m).unsqueeze(1)  # (M, 1)
        cells = (member * k + labels.long()) * k + predicted.long()  # (M, n)
        return torch.bincount(cells.reshape(-1), minlength=m * k * k).view(m, k, k)

    def _penalties(self, weights: list[Tensor]) -> Tensor | None:
        l1, l2 = self._rows["hyper.l1"], self._rows["hyper.l2"]
        use_l1, use_l2 = bool(l1.any()), bool(l2.any())
        if not (use_l1 or use_l2):
            return None
        total = torch.zeros(len(self._ids))
        for weight in weights[::2]:  # every Linear weight, as the trainer
            if use_l1:
                total = total + l1.float() * weight.abs().sum(dim=(1, 2))
            if use_l2:
                total = total + l2.float() * weight.pow(2).sum(dim=(1, 2))
        return total

    def step(self) -> CohortStep:
        """One training step of every member; members whose loss is not finite leave."""
        if not self._ids:
            raise RuntimeError("a cohort with no members cannot step")
        started = time.perf_counter()
        x, t, mask = self._batch()
        weights = self._rows["param"]  # (M, P)
        # Gradients are taken at the per-layer views and joined once: asking for the
        # flat row's instead makes autograd scatter each view's into an (M, P) of zeros.
        views = self.split(weights)
        losses = member_losses(self.head, self.loss, self.forward(x, views), t, mask)  # (M,)
        penalties = self._penalties(views)
        if penalties is not None:
            losses = losses + penalties
        grads = torch.cat([g.reshape(len(self._ids), -1)
                           for g in torch.autograd.grad(losses.sum(), views)], dim=1)
        rule = self.rule
        scalars = {name: self._rows[f"scalar.{name}"] for name in rule.scalars}
        hypers = {name: self._rows[f"hyper.{name}"] for name in HYPER_FIELDS}
        coefficients = rule.prepare(hypers, scalars)
        slots = {slot: self._rows[f"slot.{slot}"] for slot in rule.slots}
        with torch.no_grad():
            rule.apply(weights, grads, slots, shaped(coefficients, 2))
        self._steps += 1
        self.elapsed += time.perf_counter() - started  # every member trained all along
        values = losses.detach()
        ids = tuple(self._ids)
        diverged: dict[MemberId, str] = {}
        bad = ~torch.isfinite(values)
        if bool(bad.any()):
            gone = torch.nonzero(bad).flatten().tolist()
            for i in gone:
                diverged[ids[i]] = (
                    f"diverged: loss became {float(values[i])} at step {int(self._steps[i])} "
                    "(try a smaller learning rate)")
            self._drop(gone)
        return CohortStep(ids, values, diverged)


__all__ = ["Cohort", "CohortStep", "MemberId"]
