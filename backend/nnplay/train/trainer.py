"""The supervised trainer (classification and regression), and `make_trainer` for any task.

The loop itself (control, clocks, callbacks, checkpoint plumbing) lives in
`nnplay.train.loop`; this module says what one step, one evaluation and one
snapshot of a supervised run are. The loop knows nothing about HTTP: it
publishes events.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import Tensor

from nnplay.data import Dataset, build_dataset
from nnplay.data.image_dataset import ImageDataset, build_image_dataset, shift_images
from nnplay.data.sequences import SequenceDataset, build_sequence_dataset
from nnplay.models.network import Network
from nnplay.spec import DATASET_KINDS, DataKindName, ExperimentSpec, SequenceMode, Task
from nnplay.train.cnn_probes import MISCLASSIFIED_SEARCH, CnnProber
from nnplay.train.control import TrainerControl
from nnplay.train.device import resolve_device
from nnplay.train.events import CnnSnapshot, MetricsEvent, RnnSnapshot, Snapshot, TrainStart
from nnplay.train.heads import Head, make_head
from nnplay.train.loop import BUILD_LOCK, Diverged, TrainerOptions, TrainLoop
from nnplay.train.metrics import classification_report
from nnplay.train.optimizers import build_optimizer, set_learning_rate
from nnplay.train.probes import Prober
from nnplay.train.rnn_probes import RnnProber

# Image runs measure training loss and accuracy on at most this many training images
# per metrics point, and test loss and accuracy on the first IMAGE_TEST_EVAL test
# images until the run's last point, which covers the whole test set (`test_samples`
# in each point says which): a pass over thousands of images at every point would
# cost more than the training it reports on. The same predictions feed the
# misclassified grid, so snapshots need no pass of their own.
IMAGE_TRAIN_EVAL = 512
IMAGE_TEST_EVAL = MISCLASSIFIED_SEARCH
# Sequence runs measure 256 train and 256 test sequences the same way: at 100 steps a pass
# over 2,000 sequences costs more than a second of training's worth of points.
SEQUENCE_EVAL = 256
EVAL_CHUNK = 256  # images per evaluation forward pass: (256, c, h, w) activations stay in cache


class Trainer(TrainLoop):
    """Trains the network an `ExperimentSpec` describes."""

    network: Network

    def __init__(self, spec: ExperimentSpec, options: TrainerOptions | None = None,
                 control: TrainerControl | None = None) -> None:
        super().__init__(spec, options, control)
        kind = DATASET_KINDS[spec.dataset.name]
        self.images = kind == DataKindName.image
        self.dataset: Dataset | ImageDataset | SequenceDataset = (
            build_image_dataset(spec, self.options.data_dir) if self.images
            else build_sequence_dataset(spec) if kind == DataKindName.sequence
            else build_dataset(spec))
        self.head: Head = make_head(spec.task, spec.loss, self.dataset.n_classes)
        input_shape = self.dataset.input_shape if isinstance(
            self.dataset, ImageDataset | SequenceDataset) else None
        # many_to_many: outputs (m * time, k) step-major, so targets (m, time) flatten too.
        self.per_step = isinstance(self.dataset, SequenceDataset) and \
            spec.sequence_mode == SequenceMode.many_to_many
        self._clip = spec.clip_norm
        with BUILD_LOCK:
            torch.manual_seed(spec.seed)
            self.network = Network(spec.model, self.dataset.n_inputs, self.head.out_units,
                                   input_shape, per_step=self.per_step, bptt=spec.bptt)
        self.device = resolve_device(self.options.device, self.network.parameter_count(),
                                     images=self.images)
        self.network.to(self.device)
        self.optimizer = build_optimizer(spec.optimizer, self.network.parameters())
        self.lr = spec.optimizer.lr

        ds = self.dataset
        self.x_train = ds.x_train.to(self.device)  # (n_train, f)
        self.t_train = self.head.targets(ds.y_train).to(self.device)
        self.y_train = ds.y_train.to(self.device)
        self.x_test = ds.x_test.to(self.device)  # (n_test, f)
        self.t_test = self.head.targets(ds.y_test).to(self.device)
        self.y_test = ds.y_test.to(self.device)
        self.n_train = self.x_train.shape[0]
        self.batch_size = spec.batch_size
        self.steps_per_epoch = math.ceil(self.n_train / self.batch_size)
        self._shuffle = torch.Generator().manual_seed(spec.seed)
        self._order = torch.empty(0, dtype=torch.long)
        self._cursor = self.n_train  # forces a shuffle before the first batch
        reg = spec.regularization
        self._l1, self._l2 = reg.l1, reg.l2
        self._penalised = [layer.weight for layer in self.network.dense_layers()]
        self._penalised += [layer.weight for layer in self.network.conv_layers()]
        self._shift = spec.dataset.augment_shift
        self.prober: Prober | CnnProber | RnnProber = (
            CnnProber(self.network, ds, self.device) if isinstance(ds, ImageDataset)
            else RnnProber(self.network, ds, self.head, self.device)
            if isinstance(ds, SequenceDataset)
            else Prober(self.network, self.head, ds, self.device, self.options.grid_size,
                        self.options.neuron_grid_size))
        sequences = isinstance(ds, SequenceDataset)
        n_eval = self.n_train if isinstance(ds, Dataset) \
            else SEQUENCE_EVAL if sequences else IMAGE_TRAIN_EVAL
        self.x_train_eval, self.t_train_eval = self.x_train[:n_eval], self.t_train[:n_eval]
        self.y_train_eval = self.y_train[:n_eval]
        n_test = IMAGE_TEST_EVAL if self.images else SEQUENCE_EVAL if sequences \
            else self.x_test.shape[0]
        self._test_subset = (self.x_test[:n_test], self.t_test[:n_test], self.y_test[:n_test])

    # ----- one step ---------------------------------------------------------------
    def _next_batch(self) -> tuple[Tensor, Tensor]:
        if self.batch_size >= self.n_train:
            return self.x_train, self.t_train
        if self._cursor >= self.n_train:
            self._order = torch.randperm(self.n_train, generator=self._shuffle).to(self.device)
            self._cursor = 0
        index = self._order[self._cursor:self._cursor + self.batch_size]
        self._cursor += self.batch_size
        if self._shift:  # light augmentation: each image moves by up to `_shift` pixels
            return shift_images(self.x_train[index], self._shift, self._shuffle), \
                self.t_train[index]
        return self.x_train[index], self.t_train[index]

    def _flat(self, targets: Tensor) -> Tensor:
        """Per-step targets `(m, time)` as `(m * time,)`, the network's output order."""
        return targets.reshape(-1) if self.per_step else targets

    def _penalty(self) -> Tensor:
        total = torch.zeros((), device=self.device)
        for weight in self._penalised:
            if self._l1:
                total = total + self._l1 * weight.abs().sum()
            if self._l2:
                total = total + self._l2 * weight.pow(2).sum()
        return total

    def train_step(self) -> float:
        """One optimizer step on the next mini-batch; returns its loss."""
        x, t = self._next_batch()
        loss = self.head.loss(self.network(x), self._flat(t))
        if self._l1 or self._l2:
            loss = loss + self._penalty()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self._clip:
            torch.nn.utils.clip_grad_norm_(self.network.parameters(), self._clip)
        self.optimizer.step()
        self.step += 1
        value = loss.item()
        if not math.isfinite(value):
            raise Diverged(
                f"diverged: loss became {value} at step {self.step} (try a smaller learning rate)"
            )
        return value

    # ----- reporting ----------------------------------------------------------------
    def _outputs(self, x: Tensor) -> Tensor:
        """Network outputs for many inputs, image runs in chunks of EVAL_CHUNK."""
        if not self.images or x.shape[0] <= EVAL_CHUNK:
            return self.network(x)
        return torch.cat([self.network(part) for part in x.split(EVAL_CHUNK)])

    def evaluate(self, detailed: bool = False) -> MetricsEvent:
        """Loss and accuracy on the train and test sets (image and sequence runs'
        intermediate points: their fixed subsets), without regularisation."""
        network, head = self.network, self.head
        x_test, t_test, y_test = (self.x_test, self.t_test, self.y_test) if self.finished \
            else self._test_subset
        was_training = network.training
        network.eval()
        try:
            with torch.no_grad():
                out_train = self._outputs(self.x_train_eval)
                train_loss = head.loss(out_train, self._flat(self.t_train_eval)).item()
                has_test = x_test.shape[0] > 0
                out_test = self._outputs(x_test) if has_test else None
                test_loss = head.loss(out_test, self._flat(t_test)).item() \
                    if out_test is not None else None
                train_acc = test_acc = None
                report = None
                k = self.dataset.n_classes
                if k:
                    pred_train = head.predict(out_train)
                    y_train, y_test = self._flat(self.y_train_eval), self._flat(y_test)
                    train_acc = (pred_train == y_train).float().mean().item()
                    if out_test is not None:
                        pred_test = head.predict(out_test)
                        test_acc = (pred_test == y_test).float().mean().item()
                        if isinstance(self.prober, CnnProber):
                            self.prober.remember(pred_test, self.step)
                    if detailed:
                        pred, truth = (pred_test, y_test) if out_test is not None \
                            else (pred_train, y_train)
                        report = classification_report(pred.cpu(), truth.cpu(), k).to_dict()
        finally:
            network.train(was_training)
        return MetricsEvent(
            step=self.step, epoch=self.step * self.batch_size / self.n_train,
            train_loss=train_loss, test_loss=test_loss, train_accuracy=train_acc,
            test_accuracy=test_acc, lr=self.lr, steps_per_second=self.steps_per_second(),
            elapsed=self.elapsed, report=report,
            test_samples=int(x_test.shape[0]) if has_test else None,
        )

    def snapshot(self) -> Snapshot | CnnSnapshot | RnnSnapshot:
        """Probe the network now."""
        if isinstance(self.prober, RnnProber):
            return self.prober.snapshot(self.step, fresh=not self.streaming)
        return self.prober.snapshot(self.step)

    def set_probe(self, index: int | None = None, image: list[list[float]] | None = None) -> None:
        """Choose the probe image (image runs) or test sequence (sequence runs)."""
        if isinstance(self.prober, CnnProber):
            self.prober.set_probe(index, torch.tensor(image) if image is not None else None)
        elif isinstance(self.prober, RnnProber) and index is not None:
            self.prober.set_probe(index)

    def set_lr(self, lr: float, target: str = "all") -> None:
        """Change the learning rate from the training thread (one optimizer: any target)."""
        self.lr = lr
        set_learning_rate(self.optimizer, lr)

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue this run exactly: weights, optimizer, step, RNGs."""
        return {
            **self.loop_state(), "lr": self.lr,
            "network": {k: v.detach().cpu().clone() for k, v in
                        self.network.state_dict().items()},
            # The optimizer's state dict holds live tensors (Adam's moments): copy them.
            "optimizer": copy.deepcopy(self.optimizer.state_dict()),
            "shuffle": self._shuffle.get_state(), "order": self._order.cpu().clone(),
            "cursor": self._cursor,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a `state_dict()` (the spec must be the same)."""
        self.network.load_state_dict(state["network"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.load_loop_state(state)
        self.set_lr(float(state["lr"]))
        self._shuffle.set_state(state["shuffle"])
        self._order = state["order"].to(self.device)
        self._cursor = int(state["cursor"])
        if isinstance(self.prober, CnnProber | RnnProber):
            self.prober.forget()

    def start_info(self) -> TrainStart:
        """Sizes and shapes the views need before the first step."""
        return TrainStart(
            n_inputs=self.dataset.n_inputs, n_outputs=self.head.out_units,
            n_classes=self.dataset.n_classes,
            layer_sizes=[layer.out_features for layer in self.network.dense_layers()[:-1]],
            parameter_count=self.network.parameter_count(),
            steps_per_epoch=self.steps_per_epoch, device=str(self.device),
            layers=[summary.to_dict() for summary in
                    self.network.layer_summary(self.dataset.n_inputs)],
        )


def make_trainer(spec: ExperimentSpec, options: TrainerOptions | None = None,
                 control: TrainerControl | None = None) -> TrainLoop:
    """The trainer for the spec's task: `GanTrainer` for GANs, `Trainer` otherwise."""
    if spec.task == Task.gan:
        from nnplay.train.gan import GanTrainer  # imports the trainer module itself

        return GanTrainer(spec, options, control)
    return Trainer(spec, options, control)


def warm_up() -> None:
    """Pay torch's one-off costs (lazy imports, first kernels) before a person is waiting."""
    spec = ExperimentSpec.model_validate({
        "dataset": {"n_samples": 20}, "batch_size": 5, "max_steps": 2,
        "model": {"layers": [{"units": 2}, {"type": "dropout"}]},
        "optimizer": {"name": "adam", "lr": 0.01}})
    trainer = Trainer(spec, TrainerOptions(metrics_interval=0, snapshot_interval=0))
    trainer.train_step()
    trainer.snapshot()
    trainer.evaluate()
    from nnplay.train.gan import warm_up_gan

    warm_up_gan()


__all__ = ["Diverged", "TrainLoop", "Trainer", "TrainerOptions", "make_trainer", "warm_up"]
