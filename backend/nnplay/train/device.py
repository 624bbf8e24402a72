"""Where a run's tensors live: CUDA when asked for or worth it, the CPU otherwise."""

from __future__ import annotations

import torch

# Below this many parameters a CUDA launch costs more than the arithmetic it
# saves, so `auto` keeps playground-sized networks on the CPU.
CUDA_WORTHWHILE_PARAMETERS = 50_000


def cuda_available() -> bool:
    """Whether a CUDA device can be used."""
    return torch.cuda.is_available()


def resolve_device(requested: str, parameter_count: int, images: bool = False) -> torch.device:
    """Pick the device for a run: `auto`, `cpu` or `cuda` (which must exist).

    `auto` takes CUDA for large networks and for every image network (convolutions over
    a batch of images are where a GPU pays even for small nets).
    """
    if requested == "cpu":
        return torch.device("cpu")
    if requested == "cuda":
        if not cuda_available():
            raise ValueError("device 'cuda' was requested but no CUDA device is available")
        return torch.device("cuda")
    if requested != "auto":
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda' (got {requested!r})")
    if cuda_available() and (images or parameter_count >= CUDA_WORTHWHILE_PARAMETERS):
        return torch.device("cuda")
    return torch.device("cpu")


def default_device_name() -> str:
    """The device `auto` would pick for a large network, for health checks."""
    return "cuda" if cuda_available() else "cpu"
