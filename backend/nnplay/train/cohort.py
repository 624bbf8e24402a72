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

import math
import time
from collections.abc import Sequence
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
from nnplay.train.cohort_stack import (
    FlatLayout,
    MemberId,
    MemberRows,
    StackedOptimizer,
    Table,
    dense_forward,
)
from nnplay.train.heads import Head, make_head
from nnplay.train.loop import BUILD_LOCK
from nnplay.train.probes import ProbeLook, probe_row


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


class Cohort(MemberRows[_Member]):
    """Members sharing one `cohort_key`, trained together one batched step at a time."""


    def __init__(self, spec: ExperimentSpec, grid_size: int = 64,
                 neuron_grid_size: int = 16) -> None:
        super().__init__()
        refusal = cohort_refusal(spec)
        if refusal is not None:
            raise ValueError(f"this spec cannot join a cohort: {refusal}")
        self.key = cohort_key(spec)
        self.loss = spec.loss
        self.n_train = spec.train_size
        self.full_batch = spec.batch_size >= self.n_train
        self.batch = self.n_train if self.full_batch else spec.batch_size
        self.ragged = not self.full_batch and self.n_train % self.batch != 0
        self.grid_sizes = (grid_size, neuron_grid_size)  # the probes' (boundary, neurons)
        self._cursors = np.zeros(0, dtype=np.int64)  # each member's place in its order
        with torch.random.fork_rng(devices=[]):  # a template: names and the head only
            template, self.head, dataset = self._network(spec)
        self.n_classes = dataset.n_classes  # 0 for regression
        self._activations: list[nn.Module] = [
            ACTIVATIONS[layer.activation].make() for layer in spec.model.layers
            if isinstance(layer, DenseLayer)]  # every layer (cohort_refusal said so)
        # All of a member's weights live in one flat row (M, P): the optimizer then takes
        # a handful of ops per step, not a handful per weight tensor.
        self._layout = FlatLayout(template.named_parameters())
        self._optimizer = StackedOptimizer(spec.optimizer, self._layout)
        self.rule = self._optimizer.rule

    # ----- membership -----------------------------------------------------------------
    def lr_of(self, member: MemberId) -> float:
        """A member's current learning rate."""
        return float(self._rows["hyper.lr"][self._ids.index(member)])

    def add_many(self, members: Sequence[tuple[MemberId, ExperimentSpec,
                                              dict[str, Any] | None]]) -> None:
        """Add members at a step boundary, each as its solo run starts or continues."""
        joining, cursors = [], []
        for member, spec, state in members:
            self._check_new(member, spec)
            row, info = self._row(spec, state)
            joining.append((member, row, info, int(state["step"]) if state else 0,
                            float(state["elapsed"]) if state else 0.0))
            cursors.append(int(state["cursor"]) if state else self.n_train)
        self._append(joining)
        self._cursors = np.concatenate([self._cursors, np.array(cursors, dtype=np.int64)])
        self._leaf_weights()

    def _drop(self, indices: Sequence[int]) -> None:
        self._cursors = self._cursors[self._keep(indices)]
        self._leaf_weights()

    def _leaf_weights(self) -> None:
        self._rows["param"] = self._rows["param"].detach().requires_grad_(True)

    def split(self, flat: Tensor) -> list[Tensor]:
        """Views of flat weight rows `(M, P)` (or one row `(P,)`) as each weight's shape."""
        return self._layout.split(flat)

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
             state: dict[str, Any] | None) -> tuple[Table, _Member]:
        """One member's stacked-table row, and what it keeps beside it."""
        network, head, dataset = self._network(spec)
        if state is not None:
            network.load_state_dict(state["network"])
        weights = torch.cat([p.detach().flatten() for p in network.parameters()])
        lr = float(state["lr"]) if state else spec.optimizer.lr
        row = self._optimizer.row(spec.optimizer, lr, weights,
                                  state["optimizer"]["state"] if state else None)
        row["hyper.l1"] = torch.tensor(spec.regularization.l1, dtype=torch.float64)
        row["hyper.l2"] = torch.tensor(spec.regularization.l2, dtype=torch.float64)
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
        order = torch.empty(0, dtype=torch.long) if self.full_batch else rows["order"]
        return {
            "format": 1, "step": int(self._steps[i]), "elapsed": float(self.elapsed[i]),
            "torch_rng": torch.get_rng_state(), "lr": lr,
            "network": {name: w.clone() for name, w in
                        self._layout.state(rows["param"]).items()},
            "optimizer": self._optimizer.export(rows, info.spec.optimizer),
            "shuffle": info.shuffle.get_state(), "order": order.clone(),
            "cursor": int(self._cursors[i]),
        }

    def weights_of(self, member: MemberId) -> dict[str, Tensor]:
        """A member's weights now, as its solo network's `state_dict()` (views: copy them)."""
        return self._layout.state(self._rows["param"][self._ids.index(member)].detach())

    @property
    def activations(self) -> list[nn.Module]:
        """Each hidden layer's activation, in layer order."""
        return self._activations

    def look_of(self, member: MemberId) -> ProbeLook:
        """A member's frame fields beside the pixels (value range, domain, classes)."""
        return self._members[member].look

    def param_rows(self, rows: Tensor) -> Tensor:
        """A copy of the flat weight rows `(k, P)` at `rows`."""
        return self._rows["param"].detach().index_select(0, rows)

    def row_values(self, name: str, rows: Tensor) -> Tensor:
        """Entry `name` of the table at `rows` (a copy): `(k, ...)`."""
        return self._rows[name].index_select(0, rows)

    def probe_points(self, name: str) -> int:
        """How many grid points a probe input ("probe.grid", "probe.neurons") has."""
        return int(self._rows[name].shape[2])  # (M, f, points)

    # ----- live changes ---------------------------------------------------------------
    def set_lr(self, member: MemberId, lr: float, target: str = "all") -> None:
        """Change one member's learning rate, effective from its next step (`target` is a
        GAN's; one network here)."""
        del target
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
        return dense_forward(x, weights or self.split(self._rows["param"]),
                             self._activations, keep)

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
        self._optimizer.step(self._rows, self._layout.flat_grads(
            torch.autograd.grad(losses.sum(), views)))
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
