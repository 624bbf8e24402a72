"""Training: the trainer loop, loss heads, optimizers, metrics and probes."""
