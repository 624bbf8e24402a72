"""Probes: cheap looks inside a 2-D network (boundary image, neuron heatmaps, weights), and
the probe inputs a cohort member carries (`probe_row`) so stacked probes equal these.

Grid inputs are built once per run; a snapshot is two no-grad forward passes
and a few uint8 conversions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from nnplay.data import Dataset
from nnplay.models.network import Network
from nnplay.train.events import BoundaryProbe, LayerWeights, NeuronsProbe, Snapshot
from nnplay.train.heads import Head

NEURON_RANGE = (-1.0, 1.0)


def grid_points(domain: tuple[float, float], size: int) -> Tensor:
    """Cell centres of a `size` x `size` grid over the square domain, image order.

    Returns `(size * size, 2)` float32: row 0 is the top (x2 = max), column 0 the left.
    """
    lo, hi = domain
    step = (hi - lo) / size
    centres = lo + step * (torch.arange(size, dtype=torch.float32) + 0.5)  # (size,)
    x2, x1 = torch.meshgrid(centres.flip(0), centres, indexing="ij")  # (size, size) each
    return torch.stack([x1.reshape(-1), x2.reshape(-1)], dim=1)


def to_uint8(values: Tensor, lo: float, hi: float) -> Tensor:
    """Map `values` linearly from [lo, hi] to 0..255, clamping outside."""
    span = hi - lo if hi > lo else 1.0
    return ((values - lo) * (255.0 / span)).round_().clamp_(0, 255).to(torch.uint8)


def value_range_of(dataset: Dataset) -> tuple[float, float]:
    """What 0 and 255 of a boundary image stand for on `dataset` (two classes: -1..1)."""
    if dataset.n_classes:
        return (-1.0, 1.0) if dataset.n_classes == 2 else (0.0, 1.0)
    return dataset.target_range


class Prober:
    """Takes snapshots of one network on one dataset."""

    def __init__(self, network: Network, head: Head, dataset: Dataset, device: torch.device,
                 grid_size: int = 64, neuron_grid_size: int = 16) -> None:
        self.network = network
        self.head = head
        self.dataset = dataset
        self.grid_size = grid_size
        self.neuron_grid_size = neuron_grid_size
        self.grid_inputs = dataset.transform(grid_points(dataset.domain, grid_size)).to(device)
        self.neuron_inputs = dataset.transform(
            grid_points(dataset.domain, neuron_grid_size)).to(device)
        # Only dropout and batchnorm behave differently in eval mode; skip the
        # mode switch for plain dense nets.
        self._mode_matters = any(
            isinstance(m, torch.nn.Dropout | torch.nn.BatchNorm1d) for m in network.modules()
        )
        self.value_range = value_range_of(dataset)

    def boundary(self) -> BoundaryProbe:
        """The output over the plane as an image (see `BoundaryProbe`)."""
        with torch.no_grad():
            shown = self.head.display(self.network(self.grid_inputs))
        n = self.grid_size
        if shown.dim() == 2:  # (n*n, k) class probabilities
            confidence, classes = shown.max(dim=1)
            grid = torch.stack([classes.to(torch.uint8), to_uint8(confidence, 0.0, 1.0)])
            grid = grid.reshape(2, n, n)
        else:
            grid = to_uint8(shown, *self.value_range).reshape(n, n)
        return BoundaryProbe(grid=grid.cpu().numpy(), value_range=self.value_range,
                             domain=self.dataset.domain, n_classes=self.dataset.n_classes)

    def neurons(self) -> NeuronsProbe:
        """Every hidden unit's output over a coarse grid (see `NeuronsProbe`)."""
        g = self.neuron_grid_size
        with torch.no_grad():
            _, hidden = self.network.forward_with_hidden(self.neuron_inputs)
        sizes = tuple(h.shape[1] for h in hidden)
        if hidden:
            stacked = torch.cat(hidden, dim=1).T.reshape(-1, g, g)  # (units, g, g)
            grids = to_uint8(stacked, *NEURON_RANGE).cpu().numpy()
        else:
            grids = torch.zeros((0, g, g), dtype=torch.uint8).numpy()
        return NeuronsProbe(grids=grids, layer_sizes=sizes, value_range=NEURON_RANGE)

    def weights(self) -> tuple[LayerWeights, ...]:
        """Copies of every dense layer's weight and bias."""
        with torch.no_grad():
            return tuple(
                LayerWeights(weight=layer.weight.detach().cpu().numpy().copy(),
                             bias=layer.bias.detach().cpu().numpy().copy())
                for layer in self.network.dense_layers()
            )

    def snapshot(self, step: int) -> Snapshot:
        """All probes at `step`, taken in eval mode and restored afterwards."""
        was_training = self.network.training
        if self._mode_matters and was_training:
            self.network.eval()
        try:
            return Snapshot(step=step, boundary=self.boundary(), neurons=self.neurons(),
                            weights=self.weights())
        finally:
            if self._mode_matters and was_training:
                self.network.train()


@dataclass(frozen=True)
class ProbeLook:
    """What a member's frames say beside the pixels (its solo prober's fields)."""

    value_range: tuple[float, float]
    domain: tuple[float, float]
    n_classes: int


def probe_row(dataset: Dataset, grid_size: int,
              neuron_grid_size: int) -> tuple[dict[str, Tensor], ProbeLook]:
    """A member's probe inputs as cohort row entries, and its look (as its `Prober`)."""
    row = {
        # Features first, (f, G*G) and (f, g*g): see `_probe_forward`.
        "probe.grid": dataset.transform(grid_points(dataset.domain, grid_size)).T.contiguous(),
        "probe.neurons": dataset.transform(
            grid_points(dataset.domain, neuron_grid_size)).T.contiguous(),
    }
    lo, hi = value_range_of(dataset)
    # The boundary's uint8 scale, as `to_uint8` computes it for a solo run: (lo, 255/span).
    span = hi - lo if hi > lo else 1.0
    row["probe.scale"] = torch.tensor([lo, 255.0 / span], dtype=torch.float32)
    return row, ProbeLook((lo, hi), dataset.domain, dataset.n_classes)
