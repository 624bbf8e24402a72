"""The CNN lab's lessons: presets over image datasets (see `nnplay.presets`).

Step budgets stay small enough for the test suite on two cores; each lesson still
shows what it is about (accuracy, kernels, pooling, shapes) within its budget.
"""

from __future__ import annotations

from typing import Any


def _lesson(name: str, title: str, summary: str, explanation: str, spec: dict[str, Any],
            **extra: Any) -> dict[str, Any]:
    """A lesson as the keyword arguments of `nnplay.presets.Preset`."""
    return {"name": name, "title": title, "summary": summary, "explanation": explanation,
            "spec": spec, **extra}


def _conv(filters: int, kernel_size: int = 3, **extra: Any) -> dict[str, Any]:
    return {"type": "conv2d", "filters": filters, "kernel_size": kernel_size,
            "activation": "relu", **extra}


_DIGITS = {"name": "digits", "n_samples": 1797, "test_fraction": 0.25, "seed": 0}
_MNIST = {"name": "mnist", "n_samples": 10000, "test_fraction": 0.2, "seed": 0}
_ADAM = {"name": "adam", "lr": 0.01}
_DENSE_32 = {"type": "dense", "units": 32, "activation": "relu"}
_DENSE_64 = {"type": "dense", "units": 64, "activation": "relu"}
_MNIST_CNN = [_conv(8, 5), {"type": "maxpool2d"}, _conv(16), {"type": "maxpool2d"}, _DENSE_64]

CNN_LESSONS: tuple[dict[str, Any], ...] = (
    _lesson(
        "cnn-digits", "CNN: 8x8 digits", "A small convolutional net reads handwritten digits.",
        "Eight 3x3 kernels slide over each 8x8 digit and light up where their pattern "
        "appears; max pooling keeps the strongest response of each 2x2 patch, and one dense "
        "layer reads the result. Watch the kernels turn from noise into strokes and edges "
        "while test accuracy passes 95%.",
        {"task": "classification", "dataset": _DIGITS,
         "model": {"layers": [_conv(8, padding=1), {"type": "maxpool2d"}, _DENSE_32],
                   "init": "kaiming_uniform"},
         "optimizer": _ADAM, "batch_size": 32, "max_steps": 400},
    ),
    _lesson(
        "mnist-cnn", "CNN: MNIST", "Two conv layers on 28x28 MNIST digits.",
        "The first layer's 5x5 kernels find strokes, the second combines them into parts of "
        "digits, and pooling halves the map each time so the dense layer sees a 16x5x5 "
        "summary. On the 10,000 real MNIST digits it passes 95% test accuracy within a few "
        "hundred steps; draw your own digit to see what it makes of it.",
        {"task": "classification", "dataset": _MNIST,
         "model": {"layers": _MNIST_CNN, "init": "kaiming_uniform"},
         "optimizer": {"name": "adam", "lr": 0.003}, "batch_size": 64, "max_steps": 800},
    ),
    _lesson(
        "mlp-vs-cnn", "Dense net vs CNN", "Same MNIST digits, a dense net against a small CNN.",
        "The dense net gives every pixel its own weight into every unit, so it has to learn "
        "a stroke separately at each position; the CNN shares each small kernel across the "
        "whole image. With about a quarter of the dense net's parameters the CNN reaches a "
        "higher test accuracy.",
        {"task": "classification", "dataset": _MNIST,
         "optimizer": {"name": "adam", "lr": 0.003},
         "model": {"init": "kaiming_uniform"}, "batch_size": 64, "max_steps": 600},
        variants=(("dense 64-64", {"model": {"layers": [_DENSE_64, _DENSE_64]}}),
                  ("CNN", {"model": {"layers": [_conv(8, 5), {"type": "maxpool2d"}, _conv(16),
                                                {"type": "maxpool2d"}, _DENSE_32]}})),
        metric="test_accuracy",
    ),
    _lesson(
        "kernels", "Kernels: fixed, then learned", "Hand-made kernels on a digit, then training.",
        "Before any training the first layer holds classic image filters: identity, blur, "
        "horizontal and vertical edges, sharpen and outline; the feature maps show what each "
        "does to the probe digit. Press play and the same kernels change into whatever "
        "helps tell digits apart.",
        {"task": "classification", "dataset": _MNIST,
         "model": {"layers": [_conv(6, kernels="classic"), {"type": "maxpool2d"}, _DENSE_32],
                   "init": "kaiming_uniform"},
         "optimizer": {"name": "adam", "lr": 0.003}, "batch_size": 64, "max_steps": 600},
    ),
    _lesson(
        "pooling", "Max vs average pooling", "The same CNN with max and with average pooling.",
        "Max pooling keeps the strongest response in each 2x2 patch at full strength, "
        "wherever in the patch it falls; average pooling reports the patch's mean, so a "
        "response that lights only one of its four pixels comes out at a quarter of its "
        "strength. Both pass 95% test accuracy on these digits; the race shows which gets "
        "further.",
        {"task": "classification", "dataset": _DIGITS, "optimizer": _ADAM,
         "model": {"init": "kaiming_uniform"}, "batch_size": 32, "max_steps": 400},
        variants=(("max pool", {"model": {"layers": [_conv(8, padding=1),
                                                     {"type": "maxpool2d"}, _DENSE_32]}}),
                  ("average pool", {"model": {"layers": [_conv(8, padding=1),
                                                         {"type": "avgpool2d"}, _DENSE_32]}})),
        metric="test_accuracy",
    ),
    _lesson(
        "shapes", "Tensor shapes, layer by layer", "A deeper stack: watch each shape change.",
        "Always check your tensor shapes: the summary lists every layer's output shape and "
        "parameter count. A 3x3 convolution without padding trims a pixel from each edge, "
        "pooling halves height and width, flatten turns channels x height x width into one "
        "vector, and most parameters sit in the first dense layer after it.",
        {"task": "classification", "dataset": _MNIST,
         "model": {"layers": [_conv(8), _conv(8), {"type": "maxpool2d"}, _conv(16),
                              {"type": "batchnorm"}, {"type": "maxpool2d"},
                              {"type": "flatten"}, _DENSE_64, {"type": "dropout", "p": 0.2}],
                   "init": "kaiming_uniform"},
         "optimizer": {"name": "adam", "lr": 0.003}, "batch_size": 64, "max_steps": 600},
    ),
)
