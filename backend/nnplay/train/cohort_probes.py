"""Batched probes of a cohort: many members' snapshots in one stacked pass.

A solo `Prober` runs two small forward passes per snapshot (the boundary grid and
the neuron grid), each a few dozen torch calls; for a cohort of fifty watched
members that is thousands of calls per round. Here the due members' weight rows
are picked out once and both grids go through one `baddbmm` chain for all of them;
the uint8 conversion is one vectorised op per probe, and each member's `Snapshot`
holds views of those stacked arrays. A member's snapshot is its solo prober's
(same shapes and fields; pixel values equal up to float rounding of the forward).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from nnplay.train.events import BoundaryProbe, LayerWeights, NeuronsProbe, Snapshot
from nnplay.train.probes import NEURON_RANGE, ProbeLook, to_uint8

if TYPE_CHECKING:
    from nnplay.train.cohort import Cohort, MemberId


CACHE_BLOCK = 2 << 20  # bytes of one layer's activations for a slice of members


def _scaled(values: Tensor, scale: Tensor) -> Tensor:
    """`to_uint8` with a per-member range: values `(k, n)`, scale `(k, 2)` -> uint8 `(k, n)`."""
    lo, factor = scale[:, :1], scale[:, 1:]
    return ((values - lo) * factor).round_().clamp_(0, 255).to(torch.uint8)


def _probe_forward(cohort: Cohort, x: Tensor, weights: list[Tensor], keep: bool = True
                   ) -> tuple[Tensor, list[Tensor]]:
    """Members' networks over their grids, features first: `(k, f, n)` -> the output
    `(k, out, n)` and (with `keep`) each hidden layer's post-activation `(k, units, n)`.

    Features-first makes each layer a `(out, in) @ (in, n)` product with the long grid
    axis last, which MKL's batched GEMM runs several times faster than `(n, in) @ (in, out)`.
    torch's CPU tanh is ~8x slower than its sigmoid, so a tanh layer is computed as
    tanh(z) = 2 sigmoid(2z) - 1; without `keep`, the 2 and the -1 are folded into the
    (tiny) weights around it, leaving one sigmoid per element. Equal within float rounding.
    """
    h, hidden = x, []
    last = len(weights) // 2 - 1
    pending: tuple[float, float] | None = None  # the layer input is scale * h + shift
    for layer in range(last + 1):
        weight, bias = weights[2 * layer], weights[2 * layer + 1]  # (k, out, in), (k, out)
        if pending is not None:
            scale, shift = pending
            bias = bias + shift * weight.sum(dim=2)
            weight = weight * scale
            pending = None
        tanh = layer < last and isinstance(cohort.activations[layer], torch.nn.Tanh)
        if tanh:
            weight, bias = weight * 2, bias * 2
        h = torch.bmm(weight, h).add_(bias.unsqueeze(2))
        if layer == last:
            break
        if not tanh:
            h = cohort.activations[layer](h)
        elif keep:
            h = h.sigmoid_().mul_(2).sub_(1)
        else:
            h = h.sigmoid_()
            pending = (2.0, -1.0)
        if keep:
            hidden.append(h)
    return h, hidden


def stacked_snapshots(cohort: Cohort, members: Sequence[MemberId],
                      steps: Sequence[int], looks: Sequence[ProbeLook]) -> list[Snapshot]:
    """Snapshots of `members` (at their `steps`) now, in one stacked pass."""
    rows = cohort.rows_of(members)  # (k,) row indices
    k = len(members)
    grid_size = round(cohort.probe_points("probe.grid") ** 0.5)
    g = round(cohort.probe_points("probe.neurons") ** 0.5)
    with torch.no_grad():
        flat = cohort.param_rows(rows)  # (k, P), a copy
        weights = cohort.split(flat)
        # In slices of members whose widest layer fits in a cache-sized block: the
        # whole stack's (k, units, G*G) activations (and its grid inputs, picked out
        # of the rows) spill out of cache, and at 50 members slices run ~2.5x as fast.
        widest = max(w.shape[1] for w in weights[::2]) * grid_size * grid_size * 4
        chunk = max(1, CACHE_BLOCK // widest)
        out = torch.cat([
            _probe_forward(cohort, cohort.row_values("probe.grid", rows[a:a + chunk]),
                           [w[a:a + chunk] for w in weights], keep=False)[0]
            for a in range(0, k, chunk)])  # (k, out, G*G)
        units, n = out.shape[1], out.shape[2]  # (k, out, G*G)
        shown = cohort.head.display(out.transpose(1, 2).reshape(k * n, units))
        if shown.dim() == 2:  # (k*n, classes) probabilities
            confidence, classes = shown.max(dim=1)
            boundary = torch.stack([classes.to(torch.uint8).view(k, n),
                                    to_uint8(confidence, 0.0, 1.0).view(k, n)], dim=1)
            boundary = boundary.view(k, 2, grid_size, grid_size)
        else:
            scale = cohort.row_values("probe.scale", rows)  # (k, 2)
            boundary = _scaled(shown.view(k, n), scale).view(k, grid_size, grid_size)
        _, hidden = _probe_forward(cohort, cohort.row_values("probe.neurons", rows), weights)
        sizes = tuple(h.shape[1] for h in hidden)
        if hidden:  # (k, units, g*g) per layer -> (k, all units, g, g)
            stacked = torch.cat(hidden, dim=1).view(k, -1, g, g)
            neurons = to_uint8(stacked, *NEURON_RANGE).numpy()
        else:
            neurons = torch.zeros((k, 0, g, g), dtype=torch.uint8).numpy()
    pixels = boundary.numpy()
    layers = [(weights[i].numpy(), weights[i + 1].numpy()) for i in range(0, len(weights), 2)]
    return [
        Snapshot(
            step=steps[j],
            boundary=BoundaryProbe(grid=pixels[j], value_range=look.value_range,
                                   domain=look.domain, n_classes=look.n_classes),
            neurons=NeuronsProbe(grids=neurons[j], layer_sizes=sizes, value_range=NEURON_RANGE),
            weights=tuple(LayerWeights(weight=w[j], bias=b[j]) for w, b in layers))
        for j, look in enumerate(looks)]


__all__ = ["stacked_snapshots"]
