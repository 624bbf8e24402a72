"""Probes of an image classifier: conv kernels, feature maps of one probe image, mistakes.

A snapshot is one no-grad forward pass of the probe image through the body (capturing
every conv and pool layer's output) and a uint8 conversion of each conv layer's weights.
The misclassified images come from the predictions the latest metrics point made for
the first test images (`remember`): the snapshot does not pay for a second pass over
the test set, so the mistakes grid is as fresh as the latest metrics point.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from nnplay.data.image_dataset import ImageDataset
from nnplay.models.network import Network
from nnplay.train.events import CnnSnapshot, ImageLayers, Misclassified, ProbeImage
from nnplay.train.probes import to_uint8

MAX_MISCLASSIFIED = 16
MISCLASSIFIED_SEARCH = 512  # mistakes are looked for among this many first test images
SEARCH_CHUNK = 128  # test images per forward pass when the prober predicts them itself


def _scaled(tensors: list[Tensor], kinds: list[str]) -> ImageLayers:
    """Each tensor scaled from its own min..max to uint8, flattened and concatenated."""
    parts, shapes, ranges = [], [], []
    for tensor in tensors:
        lo, hi = (float(tensor.min()), float(tensor.max())) if tensor.numel() else (0.0, 0.0)
        parts.append(to_uint8(tensor, lo, hi).reshape(-1).cpu())
        shapes.append(tuple(tensor.shape))
        ranges.append((lo, hi))
    values = torch.cat(parts).numpy() if parts else np.zeros(0, dtype=np.uint8)
    return ImageLayers(values, tuple(shapes), tuple(ranges), tuple(kinds))


class CnnProber:
    """Takes snapshots of one image classifier on one image dataset."""

    def __init__(self, network: Network, dataset: ImageDataset, device: torch.device) -> None:
        self.network = network
        self.dataset = dataset
        self.device = device
        self._taps = dict(network.feature_map_layers())
        self._index: int | None = 0 if dataset.x_test.shape[0] else None
        self._drawn: Tensor | None = None  # (h, w) float32 in 0..1
        self._x_search = dataset.x_test[:MISCLASSIFIED_SEARCH].to(device)
        self._predicted: Tensor | None = None  # (n_search,) int64 on the CPU
        self._predicted_step = 0  # the step whose weights made `_predicted`

    def remember(self, predicted: Tensor, step: int) -> None:
        """Keep the classes predicted for the first test images `(>= n_search,)` by the
        weights of `step` (a metrics point made them) for the misclassified grid."""
        self._predicted = predicted[:self._x_search.shape[0]].cpu()
        self._predicted_step = step

    def forget(self) -> None:
        """The weights changed outside training (a checkpoint): predict afresh."""
        self._predicted = None

    def set_probe(self, index: int | None = None, image: Tensor | None = None) -> None:
        """Probe test image `index`, or a drawn image `(h, w)` with values 0..1."""
        if image is not None:
            self._drawn, self._index = image.to(torch.float32), None
        elif index is not None:
            if not 0 <= index < self.dataset.x_test.shape[0]:
                raise ValueError(f"index: the test set has {self.dataset.x_test.shape[0]} "
                                 f"images; use 0 to {self.dataset.x_test.shape[0] - 1}")
            self._drawn, self._index = None, index

    def _probe_pixels(self) -> tuple[Tensor, Tensor]:
        """The probe image as pixels `(h, w)` in 0..1 and as a model input `(1, 1, h, w)`."""
        if self._drawn is not None:
            pixels = self._drawn
        elif self._index is not None:
            pixels = self.dataset.pixels_test[self._index].to(torch.float32) / 255.0
        else:
            pixels = torch.zeros(self.dataset.image_shape)
        return pixels, self.dataset.transform(pixels).reshape(1, 1, *pixels.shape)

    def forward_maps(self, x: Tensor) -> tuple[Tensor, list[Tensor], list[str]]:
        """Output `(m, k)` and every conv/pool layer's output for a batch of inputs."""
        maps, kinds = [], []
        h = x.to(self.device)
        for index, module in enumerate(self.network.body):
            h = module(h)
            if index in self._taps:
                maps.append(h)
                kinds.append(self._taps[index])
        return h, maps, kinds

    def kernels(self) -> ImageLayers:
        """Every conv layer's weights `(out, in, k, k)`, each layer on its own scale."""
        weights = [conv.weight.detach() for conv in self.network.conv_layers()]
        return _scaled(weights, ["conv2d"] * len(weights))

    def _search(self) -> Tensor:
        """Predicted classes `(n_search,)` of the first test images, chunk by chunk until
        16 mistakes are found (the rest stay -1: never read)."""
        n = self._x_search.shape[0]
        pred = torch.full((n,), -1, dtype=torch.long)
        truth = self.dataset.y_test[:n]
        wrong = 0
        for start in range(0, n, SEARCH_CHUNK):
            chunk = self.network(self._x_search[start:start + SEARCH_CHUNK]).argmax(dim=1).cpu()
            pred[start:start + chunk.shape[0]] = chunk
            wrong += int((chunk != truth[start:start + chunk.shape[0]]).sum())
            if wrong >= MAX_MISCLASSIFIED:
                break
        return pred

    def misclassified(self, step: int) -> Misclassified:
        """The first test images (in test order, among the first 512) the network gets
        wrong, at most 16, by the latest metrics point's predictions (or fresh ones of the
        weights of `step`)."""
        if self._predicted is not None:
            pred, made = self._predicted, self._predicted_step
        else:
            pred, made = self._search(), step
        truth = self.dataset.y_test[:pred.shape[0]]
        mistakes = torch.nonzero((pred != truth) & (pred >= 0)).reshape(-1)
        wrong = mistakes[:MAX_MISCLASSIFIED].tolist()
        predicted = [int(pred[i]) for i in wrong]
        h, w = self.dataset.image_shape
        images = (self.dataset.pixels_test[wrong].numpy() if wrong
                  else np.zeros((0, h, w), dtype=np.uint8))
        return Misclassified(images, tuple(wrong),
                             tuple(int(self.dataset.y_test[i]) for i in wrong), tuple(predicted),
                             made)

    def snapshot(self, step: int) -> CnnSnapshot:
        """All probes at `step`, in eval mode (restored afterwards)."""
        was_training = self.network.training
        self.network.eval()
        try:
            with torch.no_grad():
                pixels, x = self._probe_pixels()
                out, maps, kinds = self.forward_maps(x)
                probabilities = torch.softmax(out[0], dim=0).cpu()
                probe = ProbeImage(
                    pixels=to_uint8(pixels, 0.0, 1.0).numpy(), index=self._index,
                    label=(int(self.dataset.y_test[self._index]) if self._index is not None
                           else None),
                    probabilities=tuple(round(float(p), 5) for p in probabilities),
                    predicted=int(probabilities.argmax()))
                return CnnSnapshot(step=step, kernels=self.kernels(),
                                   feature_maps=_scaled([m[0] for m in maps], kinds),
                                   probe=probe, misclassified=self.misclassified(step))
        finally:
            self.network.train(was_training)
