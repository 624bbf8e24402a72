"""Models: activation and initialisation registries and the network built from a `ModelSpec`."""

from nnplay.models.activations import ACTIVATIONS, ActivationInfo
from nnplay.models.init import INITS, InitInfo, WeightLayer, apply_init
from nnplay.models.network import LayerKind, LayerSummary, Network, build_network

__all__ = [
    "ACTIVATIONS",
    "INITS",
    "ActivationInfo",
    "InitInfo",
    "LayerKind",
    "LayerSummary",
    "Network",
    "WeightLayer",
    "apply_init",
    "build_network",
]
