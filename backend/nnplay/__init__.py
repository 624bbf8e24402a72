"""nnplay: a neural-network playground that trains real PyTorch networks and streams them."""

__version__ = "0.1.0"
