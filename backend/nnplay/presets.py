"""Presets: named lessons, each a partial spec plus the explanation shown beside it.

A preset's `spec` is deep-merged over the spec defaults; a race preset also has
`variants`, overrides that each make one run of the race, and `metric`, what its
chart compares. `START_LESSON` is the lesson the playground opens with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from nnplay.cnn_presets import CNN_LESSONS
from nnplay.rnn_presets import RNN_LESSONS
from nnplay.spec import ExperimentSpec, deep_merge, parse_spec

RaceMetric = Literal["test_loss", "test_accuracy", "train_and_test_loss"]


@dataclass(frozen=True)
class Preset:
    """A one-click lesson."""

    name: str
    title: str
    summary: str  # one line, for menus and `nnplay presets`
    explanation: str  # two or three sentences shown beside the experiment
    spec: dict[str, Any]
    variants: tuple[tuple[str, dict[str, Any]], ...] = field(default=())
    # What a race's chart draws per run: its test loss, its test accuracy (losses on
    # different scales), or its train and test loss (the gap between them).
    metric: RaceMetric = "test_loss"

    def spec_dict(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """The preset's spec data with `overrides` deep-merged in."""
        return deep_merge(self.spec, overrides or {})

    def build(self, overrides: dict[str, Any] | None = None) -> ExperimentSpec:
        """The validated spec of this preset (first variant for a race)."""
        return self.race(overrides)[0][1]

    def race(self, overrides: dict[str, Any] | None = None) -> list[tuple[str, ExperimentSpec]]:
        """One labelled spec per variant (a single unlabelled one for a plain preset)."""
        base = self.spec_dict(overrides)
        if not self.variants:
            return [(self.title, parse_spec(base))]
        return [(label, parse_spec(deep_merge(base, {**extra, "name": label})))
                for label, extra in self.variants]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description, with the full validated spec(s)."""
        out: dict[str, Any] = {
            "name": self.name, "title": self.title, "summary": self.summary,
            "explanation": self.explanation,
            "spec": self.build().model_dump(mode="json"),
        }
        if self.variants:
            out["variants"] = [{"label": label, "spec": spec.model_dump(mode="json")}
                               for label, spec in self.race()]
            out["metric"] = self.metric
        return out


def _dense(*units: int, activation: str = "tanh") -> list[dict[str, Any]]:
    return [{"type": "dense", "units": n, "activation": activation} for n in units]


_SPIRAL_NET = {"features": ["x1", "x2", "sin_x1", "sin_x2"],
               "model": {"layers": _dense(8, 8, 6), "init": "xavier_uniform"}}

# Small 2-D GANs: two 32-unit layers each, Adam with the usual GAN momentum (beta1 0.5).
_GAN_2D: dict[str, Any] = {
    "generator": {"layers": _dense(32, 32, activation="relu"), "init": "kaiming_uniform"},
    "discriminator": {"layers": _dense(32, 32, activation="leaky_relu"),
                      "init": "kaiming_uniform"},
    "latent_dim": 2, "noise": "gaussian", "gan_loss": "non_saturating",
    "optimizer": {"name": "adam", "lr": 0.001, "beta1": 0.5}, "batch_size": 64,
}

_ALL_FEATURES = ["x1", "x2", "x1_sq", "x2_sq", "x1x2"]

# The lesson the playground opens with: solved within a few seconds, like TensorFlow
# Playground's first screen; the default spec itself stays the spiral.
START_LESSON = "first-steps"

_PRESETS: tuple[Preset, ...] = (
    Preset(
        "first-steps", "First steps: a circle",
        "Start here: a small network learns a circle in a few seconds.",
        "Press play: two small hidden layers learn to tell the inner disc from the outer ring "
        "in a few hundred steps, and the boundary closes around the centre. Each hidden "
        "neuron draws one line and the output blends them into a closed region. Once it "
        "works, pick Two spirals from the lesson menu to see a problem this network cannot "
        "solve, and what it takes.",
        {"dataset": {"name": "circle", "n_samples": 500, "noise": 0.0},
         "model": {"layers": _dense(4, 2)}, "optimizer": {"name": "sgd", "lr": 0.1},
         "loss": "mse", "batch_size": 10, "max_steps": 1000},
    ),
    Preset(
        "spiral", "Two spirals", "The classic hard case: two interleaved spirals.",
        "Two spirals are not separable by a line or a simple curve. Three hidden layers "
        "bend the plane step by step until each arm gets its own region; the sine features "
        "give the first layer waves to build on.",
        {"dataset": {"name": "spiral", "n_samples": 500, "noise": 0.0},
         **_SPIRAL_NET, "optimizer": {"name": "adam", "lr": 0.01},
         "loss": "mse", "batch_size": 10, "max_steps": 3000},
    ),
    Preset(
        "xor", "XOR", "Why a hidden layer matters: XOR is not linearly separable.",
        "No single straight line splits the XOR quadrants, so a network without hidden "
        "layers cannot learn it. One hidden layer of four units combines two lines into "
        "the checkerboard.",
        {"dataset": {"name": "xor", "n_samples": 400, "noise": 0.1,
                     "normalization": "standard"},
         "model": {"layers": _dense(4)}, "optimizer": {"name": "sgd", "lr": 0.3},
         "loss": "mse", "batch_size": 10, "max_steps": 3000},
    ),
    Preset(
        "circle", "Circle", "An inner disc against an outer ring, learnt with a hidden layer.",
        "A circle cannot be drawn with one line, but a few hidden units each draw a line and "
        "the output combines them into a closed region. Watch each neuron's heatmap: each "
        "one is a line; the output is their blend.",
        {"dataset": {"name": "circle", "n_samples": 400, "noise": 0.1},
         "model": {"layers": _dense(4, 2)}, "optimizer": {"name": "sgd", "lr": 0.1},
         "loss": "mse", "batch_size": 10, "max_steps": 3000},
    ),
    Preset(
        "circle-features", "Circle with feature crosses",
        "x1² and x2² make the circle linear: no hidden layer needed.",
        "A circle is x1² + x2² < r², which is a straight line in the (x1², x2²) plane. "
        "Feed those two features in and a network with no hidden layer at all separates "
        "the classes: good features can replace depth.",
        {"dataset": {"name": "circle", "n_samples": 400, "noise": 0.1},
         "features": ["x1_sq", "x2_sq"], "model": {"layers": []},
         "optimizer": {"name": "sgd", "lr": 0.03}, "loss": "mse",
         "batch_size": 10, "max_steps": 2000},
    ),
    Preset(
        "gaussians", "Two Gaussians", "Two clouds of points: a single line is enough.",
        "When the classes form two separated clouds, a straight line splits them. A network "
        "with no hidden layer (logistic regression) learns it in a few hundred steps.",
        {"dataset": {"name": "gaussians", "n_samples": 400, "noise": 0.2},
         "model": {"layers": []}, "optimizer": {"name": "sgd", "lr": 0.03},
         "loss": "bce", "batch_size": 10, "max_steps": 1000},
    ),
    Preset(
        "blobs", "Many classes", "Several classes with a softmax output and cross-entropy.",
        "With more than two classes the output layer has one unit per class, softmax turns "
        "them into probabilities and cross-entropy rewards the right one. The heatmap shows "
        "the predicted class, paler where the network is unsure.",
        {"dataset": {"name": "blobs", "classes": 4, "n_samples": 500, "noise": 0.3},
         "model": {"layers": _dense(8, activation="relu"), "init": "kaiming_uniform"},
         "optimizer": {"name": "adam", "lr": 0.01}, "loss": "cross_entropy",
         "batch_size": 16, "max_steps": 2000},
    ),
    Preset(
        "plane", "Regression on a plane", "Fit a real-valued target instead of a class.",
        "Regression predicts a number, not a class: the output unit is linear and the loss "
        "measures the distance to the target. A plane is a linear function, so even a tiny "
        "network fits it exactly.",
        {"task": "regression", "dataset": {"name": "plane", "n_samples": 400, "noise": 0.1},
         "model": {"layers": _dense(2)}, "optimizer": {"name": "sgd", "lr": 0.03},
         "loss": "mse", "batch_size": 10, "max_steps": 2000},
    ),
    Preset(
        "zero-init", "Zero initialisation", "All-zero weights keep every neuron identical.",
        "With every weight at zero, all sigmoid units of a layer output the same value and "
        "get the same gradient, so they learn but stay identical copies: compare their "
        "heatmaps. The layer acts like a single unit and can only draw one straight "
        "boundary, never the circle; set Init to Xavier and the random start breaks the "
        "symmetry, so each unit finds its own line.",
        {"dataset": {"name": "circle", "n_samples": 400, "noise": 0.1},
         "model": {"layers": _dense(4, 4, activation="sigmoid"), "init": "zeros"},
         "optimizer": {"name": "sgd", "lr": 0.3}, "loss": "mse",
         "batch_size": 10, "max_steps": 2000},
    ),
    Preset(
        "lr-too-high", "Learning rate too high", "A step size so large the loss explodes.",
        "Each step moves the weights by the learning rate times the gradient. Too large a "
        "step overshoots the minimum by more than it started from, the error grows every "
        "step and the loss becomes infinite: the run stops and says at which step.",
        {"task": "regression", "dataset": {"name": "plane", "n_samples": 400, "noise": 0.1},
         "model": {"layers": []},
         "optimizer": {"name": "sgd", "lr": 0.1}, "loss": "mse",
         "batch_size": 10, "max_steps": 2000},
    ),
    Preset(
        "overfitting", "Overfitting", "A big network memorises a small noisy training set.",
        "With few, noisy points and many weights, the network learns the noise: the train "
        "loss keeps falling while the test loss turns and rises. Try L2 regularisation or "
        "dropout, or more data, and watch the gap close.",
        {"dataset": {"name": "moons", "n_samples": 60, "noise": 0.5, "test_fraction": 0.5},
         "model": {"layers": _dense(16, 16, 16, activation="relu"),
                   "init": "kaiming_uniform"},
         "optimizer": {"name": "adam", "lr": 0.003}, "loss": "mse",
         "batch_size": 10, "max_steps": 4000},
    ),
    Preset(
        "batch-vs-online", "Full batch vs mini-batch vs online",
        "The same network trained with batch 1, 10 and the whole set.",
        "Online learning (batch 1) takes many noisy steps, full batch takes few smooth but "
        "expensive ones, and mini-batches sit in between. Compare the curves per step and "
        "per epoch.",
        {"dataset": {"name": "circle", "n_samples": 400, "noise": 0.1},
         "model": {"layers": _dense(4, 2)}, "optimizer": {"name": "sgd", "lr": 0.03},
         "loss": "mse", "batch_size": 10, "max_steps": 2000},
        variants=(("online (batch 1)", {"batch_size": 1}),
                  ("mini-batch (10)", {"batch_size": 10}),
                  ("full batch (200)", {"batch_size": 200})),
    ),
    Preset(
        "optimizers", "Optimizer race", "SGD, momentum, Nesterov, Adagrad, Adadelta, RMSprop, "
        "Adam and Nadam on the same problem.",
        "Every run has the same data, network and starting weights; only the optimizer "
        "differs. Momentum smooths and speeds up SGD, Adagrad and RMSprop adapt the step per "
        "weight, and Adam combines both ideas.",
        {"dataset": {"name": "spiral", "n_samples": 500, "noise": 0.0}, **_SPIRAL_NET,
         "loss": "mse", "batch_size": 10, "max_steps": 4000},
        variants=(
            ("SGD", {"optimizer": {"name": "sgd", "lr": 0.03}}),
            ("Momentum", {"optimizer": {"name": "sgd", "lr": 0.03, "momentum": 0.9}}),
            ("Nesterov", {"optimizer": {"name": "sgd", "lr": 0.03, "momentum": 0.9,
                                        "nesterov": True}}),
            ("Adagrad", {"optimizer": {"name": "adagrad", "lr": 0.03}}),
            ("Adadelta", {"optimizer": {"name": "adadelta", "lr": 1.0}}),
            ("RMSprop", {"optimizer": {"name": "rmsprop", "lr": 0.003}}),
            ("Adam", {"optimizer": {"name": "adam", "lr": 0.01}}),
            ("Nadam", {"optimizer": {"name": "nadam", "lr": 0.01}}),
        ),
    ),
    Preset(
        "learning-rates", "Learning rate: too small, right, too large",
        "Three runs that differ only in the learning rate.",
        "Each step moves the weights by the learning rate times the gradient. At 0.0001 "
        "the loss crawls and is still high at the end, 0.01 fits the plane in a few hundred "
        "steps, and 0.1 overshoots the minimum further every step until the loss is "
        "infinite: that run stops and says at which step it diverged.",
        {"task": "regression", "dataset": {"name": "plane", "n_samples": 400, "noise": 0.1},
         "model": {"layers": []}, "loss": "mse", "batch_size": 10, "max_steps": 1000},
        variants=(("lr 0.0001", {"optimizer": {"name": "sgd", "lr": 0.0001}}),
                  ("lr 0.01", {"optimizer": {"name": "sgd", "lr": 0.01}}),
                  ("lr 0.1", {"optimizer": {"name": "sgd", "lr": 0.1}})),
    ),
    Preset(
        "normalization", "Input normalisation", "Why inputs on different scales train badly.",
        "Here x1² and x1·x2 reach 36 while x1 and x2 stay within 6, so the loss is far "
        "steeper along the big inputs than along the small ones. A learning rate that suits "
        "standardised inputs (zero mean, unit variance, fitted on the training set) makes "
        "the raw run overshoot along the big inputs and diverge within a few dozen steps, "
        "while min-max scaling to [-1, 1] and standardising both train smoothly.",
        {"task": "regression", "dataset": {"name": "plane", "n_samples": 400, "noise": 0.1},
         "features": _ALL_FEATURES, "model": {"layers": []},
         "optimizer": {"name": "sgd", "lr": 0.01}, "loss": "mse", "batch_size": 10,
         "max_steps": 1000},
        variants=(("raw inputs", {"dataset": {"normalization": "none"}}),
                  ("min-max", {"dataset": {"normalization": "minmax"}}),
                  ("standardised", {"dataset": {"normalization": "standard"}})),
    ),
    Preset(
        "losses", "Losses for classification",
        "MSE, Huber, BCE, hinge and cross-entropy on the same two-class problem.",
        "Squared and absolute errors treat the classes as targets -1 and +1, binary "
        "cross-entropy reads a sigmoid output as a probability, hinge only asks each point "
        "to be on the right side by a margin, and cross-entropy uses one softmax unit per "
        "class. Their loss values are on different scales and cannot share an axis, so the "
        "race compares test accuracy, which every one of them takes above 95%.",
        {"dataset": {"name": "moons", "n_samples": 400, "noise": 0.2},
         "model": {"layers": _dense(8)}, "optimizer": {"name": "adam", "lr": 0.01},
         "batch_size": 10, "max_steps": 1000},
        variants=(("MSE", {"loss": "mse"}), ("MAE", {"loss": "mae"}),
                  ("Huber", {"loss": "huber"}), ("BCE", {"loss": "bce"}),
                  ("Hinge", {"loss": "hinge"}), ("Cross-entropy", {"loss": "cross_entropy"})),
        metric="test_accuracy",
    ),
    Preset(
        "regularization", "L1, L2 and dropout", "Three cures for overfitting side by side.",
        "The chart draws each run's training loss (dashed) and test loss (solid): without "
        "help the training loss falls towards zero while the test loss stays high. L2 pulls "
        "every weight toward zero, L1 pushes useless weights to exactly zero, and dropout "
        "randomly silences units so none can be relied on alone; each narrows that gap.",
        {"dataset": {"name": "moons", "n_samples": 60, "noise": 0.5, "test_fraction": 0.5},
         "model": {"layers": _dense(16, 16, 16, activation="relu"),
                   "init": "kaiming_uniform"},
         "optimizer": {"name": "adam", "lr": 0.003}, "loss": "mse",
         "batch_size": 10, "max_steps": 4000},
        variants=(("none", {}), ("L2 0.001", {"regularization": {"l2": 0.001}}),
                  ("L1 0.001", {"regularization": {"l1": 0.001}}),
                  ("dropout 0.3", {"model": {"layers": [
                      *_dense(16, activation="relu"), {"type": "dropout", "p": 0.3},
                      *_dense(16, activation="relu"), {"type": "dropout", "p": 0.3},
                      *_dense(16, activation="relu")]}})),
        metric="train_and_test_loss",
    ),
    Preset(
        "gan-ring", "GAN: a ring", "A generator learns to turn Gaussian noise into a ring.",
        "The generator maps a cloud of 2-D noise onto the ring, and the manifold view shows "
        "how it stretches and folds the latent grid to do so. The heatmap is where the "
        "discriminator believes real data lies, and the arrows show which way its gradient "
        "pushes each generated point.",
        {"task": "gan", "dataset": {"name": "ring", "n_samples": 1000},
         **_GAN_2D, "max_steps": 3000},
    ),
    Preset(
        "gan-gaussians", "GAN: eight Gaussians", "Generator vs discriminator on eight modes.",
        "The real data is eight separate clusters, so the generator has to split one "
        "continuous cloud of noise into eight pieces. Watch the distance fall as the "
        "generated points spread over every mode, and D's heatmap fade towards an even "
        "0.5 as it can no longer tell real from fake.",
        {"task": "gan", "dataset": {"name": "gaussians", "modes": 8, "n_samples": 1000},
         **_GAN_2D, "max_steps": 2000},
    ),
    Preset(
        "gan-mode-collapse", "GAN: mode collapse",
        "A generator that outpaces its discriminator covers one mode at a time.",
        "Here the generator learns ten times faster than the discriminator and takes five "
        "steps for each of its steps, so it piles its samples into one tight blob on "
        "whichever spot D currently rates most real, usually one of the modes; once D "
        "catches up, the blob jumps elsewhere. Coverage stays at one or two modes in eight, "
        "where the balanced gan-gaussians run covers nearly all of them.",
        {"task": "gan", "dataset": {"name": "gaussians", "modes": 8, "n_samples": 1000},
         **_GAN_2D, "g_optimizer": {"name": "adam", "lr": 0.01, "beta1": 0.5},
         "d_optimizer": {"name": "adam", "lr": 0.001, "beta1": 0.5}, "g_steps": 5,
         "max_steps": 2000},
    ),
    Preset(
        "gan-digits", "GAN: handwritten digits", "A GAN that learns to draw 8x8 digits.",
        "The generator turns 16 random numbers into an 8x8 image and the discriminator "
        "compares it with real handwritten digits. Each cell of the sample grid keeps its "
        "latent vector, so you watch the same cell sharpen from noise into a digit; the "
        "score, from a small digit classifier, rises as samples become recognisable and "
        "varied.",
        {"task": "gan", "dataset": {"name": "digits", "n_samples": 1797}, "latent_dim": 16,
         "generator": {"layers": _dense(128, activation="relu"), "init": "kaiming_uniform"},
         "discriminator": {"layers": _dense(128, activation="leaky_relu"),
                           "init": "kaiming_uniform"},
         "optimizer": {"name": "adam", "lr": 0.001, "beta1": 0.5}, "batch_size": 64,
         "max_steps": 3000},
    ),
)

PRESETS: dict[str, Preset] = {preset.name: preset for preset in (
    *_PRESETS, *(Preset(**lesson) for lesson in (*CNN_LESSONS, *RNN_LESSONS)))}


class UnknownPreset(KeyError):
    """No preset has that name."""

    def __str__(self) -> str:
        return f"unknown preset {self.args[0]!r}; choose one of: {', '.join(PRESETS)}"


def get_preset(name: str) -> Preset:
    """The preset called `name`, or `UnknownPreset` naming the choices."""
    try:
        return PRESETS[name]
    except KeyError:
        raise UnknownPreset(name) from None
