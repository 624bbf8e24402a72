"""GAN probes: cheap looks at a generator and its discriminator while they train.

2-D targets: generated points from fixed latent vectors, the discriminator over the
plane, the generator manifold (a latent grid mapped through G) and the gradient
arrows at the generated points. Images: a tiled grid of samples from fixed latent
vectors, so each cell shows the same latent vector evolving.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nnplay.spec import NoiseKind
from nnplay.train.events import DiscriminatorProbe, GanSnapshot, ManifoldProbe, SamplesProbe
from nnplay.train.gan_objectives import GanObjective
from nnplay.train.probes import grid_points, to_uint8

SHOWN_POINTS = 500  # generated points per frame (2-D), also where the arrows are
MANIFOLD_SIZE = {1: 101, 2: 21}  # latent grid points per axis, by latent_dim
SAMPLE_ROWS = SAMPLE_COLS = 8  # image targets: an 8 x 8 grid of generated digits
PIXEL_RANGE = (-1.0, 1.0)


def latent_range(noise: NoiseKind) -> tuple[float, float]:
    """The latent interval the manifold covers: most of the noise's mass."""
    return (-2.0, 2.0) if noise == NoiseKind.gaussian else (-1.0, 1.0)


def latent_grid(latent_dim: int, noise: NoiseKind) -> Tensor:
    """The manifold's latent vectors: `(g, 1)` for latent_dim 1, `(g * g, 2)` for 2.

    For 2, rows run from z2 = hi (top) down and columns from z1 = lo, as an image.
    """
    lo, hi = latent_range(noise)
    g = MANIFOLD_SIZE[latent_dim]
    axis = torch.linspace(lo, hi, g)  # (g,)
    if latent_dim == 1:
        return axis[:, None]
    z2, z1 = torch.meshgrid(axis.flip(0), axis, indexing="ij")  # (g, g) each
    return torch.stack([z1.reshape(-1), z2.reshape(-1)], dim=1)


def tile_images(images: Tensor, rows: int, cols: int, shape: tuple[int, int],
                value_range: tuple[float, float] = PIXEL_RANGE) -> Tensor:
    """Flattened images `(rows * cols, h * w)` as one uint8 picture `(rows * h, cols * w)`."""
    h, w = shape
    cells = to_uint8(images.detach().float().cpu(), *value_range).reshape(rows, cols, h, w)
    return cells.permute(0, 2, 1, 3).reshape(rows * h, cols * w)


class GanProber:
    """Takes snapshots of one generator/discriminator pair."""

    def __init__(self, generator: nn.Module, discriminator: nn.Module, objective: GanObjective,
                 *, latent_dim: int, noise: NoiseKind, domain: tuple[float, float],
                 image_shape: tuple[int, int] | None, shown_latents: Tensor,
                 device: torch.device, grid_size: int = 64) -> None:
        self.generator = generator
        self.discriminator = discriminator
        self.objective = objective
        self.domain = domain
        self.image_shape = image_shape
        self.grid_size = grid_size
        self.shown_latents = shown_latents.to(device)  # fixed for the whole run
        self.noise = noise
        if image_shape is None:
            self.grid_inputs = grid_points(domain, grid_size).to(device)  # (n*n, 2)
            self.manifold_latents = (latent_grid(latent_dim, noise).to(device)
                                     if latent_dim in MANIFOLD_SIZE else None)
        self._mode_matters = any(
            isinstance(m, nn.Dropout | nn.BatchNorm1d | nn.BatchNorm2d)
            for net in (generator, discriminator) for m in net.modules())

    def snapshot(self, step: int) -> GanSnapshot:
        """All probes at `step`, taken in eval mode and restored afterwards."""
        nets = (self.generator, self.discriminator)
        was_training = [net.training for net in nets]
        if self._mode_matters:
            for net in nets:
                net.eval()
        try:
            if self.image_shape is not None:
                return GanSnapshot(step=step, samples=self.samples())
            return self._plane_snapshot(step)
        finally:
            if self._mode_matters:
                for net, mode in zip(nets, was_training, strict=True):
                    net.train(mode)

    def samples(self) -> SamplesProbe:
        """The fixed latent vectors' images, tiled."""
        assert self.image_shape is not None
        with torch.no_grad():
            images = self.generator(self.shown_latents)  # (rows * cols, h * w)
        grid = tile_images(images, SAMPLE_ROWS, SAMPLE_COLS, self.image_shape)
        return SamplesProbe(grid=grid.numpy(), rows=SAMPLE_ROWS, cols=SAMPLE_COLS,
                            cell=self.image_shape, value_range=PIXEL_RANGE)

    def _plane_snapshot(self, step: int) -> GanSnapshot:
        with torch.no_grad():
            fake = self.generator(self.shown_latents)  # (n, 2)
            scores = self.objective.display(self.discriminator(self.grid_inputs))  # (n*n, 1)
            manifold = None
            if self.manifold_latents is not None:
                mapped = self.generator(self.manifold_latents)  # (g*g, 2) or (g, 2)
                g = MANIFOLD_SIZE[self.manifold_latents.shape[1]]
                shape = (g, g, 2) if self.manifold_latents.shape[1] == 2 else (g, 2)
                manifold = ManifoldProbe(points=mapped.reshape(shape).cpu().numpy(),
                                         latent_range=latent_range(self.noise))
        value_range = self.objective.value_range
        if value_range is None:  # an unbounded critic: spread this frame's scores over 0..255
            low, high = float(scores.min()), float(scores.max())
            value_range = (round(low, 4), round(max(high, low + 1e-6), 4))
        n = self.grid_size
        heatmap = to_uint8(scores.reshape(n, n), *value_range)
        # The direction the generator's loss pushes each shown point: -d loss_G / d x.
        points = fake.detach().requires_grad_(True)
        with torch.enable_grad():
            loss = self.objective.g_loss(self.discriminator(points))
            (grad,) = torch.autograd.grad(loss, points)
        arrows = -grad  # (n, 2)
        longest = float(arrows.norm(dim=1).max()) if arrows.shape[0] else 0.0
        if longest > 0:
            arrows = arrows / longest
        return GanSnapshot(
            step=step, fake=fake.cpu().numpy(),
            discriminator=DiscriminatorProbe(grid=heatmap.cpu().numpy(),
                                             value_range=value_range, domain=self.domain),
            manifold=manifold, gradients=arrows.cpu().numpy(), gradient_norm=longest)
