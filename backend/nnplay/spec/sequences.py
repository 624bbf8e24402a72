"""The rules of a sequence spec (data kind `sequence`): which combinations train.

`ExperimentSpec` calls `check_sequence_spec` for sequence datasets; each refusal names
the field and what is allowed.
"""

from __future__ import annotations

from nnplay.spec import (
    LIMITS,
    REGRESSION_LOSSES,
    WHOLE_SEQUENCE_SETS,
    DatasetName,
    ExperimentSpec,
    LossName,
    RecurrentLayer,
    SequenceMode,
    Task,
    stack_shapes,
)


def sequence_features(spec: ExperimentSpec) -> int:
    """Input features per time step, known from the spec alone (text: its vocabulary)."""
    name = spec.dataset.name
    if name == DatasetName.memory:
        return spec.dataset.classes + 1  # one-hot symbol and a start flag
    if name == DatasetName.text:
        from nnplay.data.sequences import text_vocabulary

        return len(text_vocabulary(spec.dataset))
    return 1


def check_sequence_spec(spec: ExperimentSpec) -> None:
    """Raise ValueError naming the field where a sequence spec cannot train."""
    data = spec.dataset
    if data.augment_shift:
        raise ValueError("dataset.augment_shift: only image datasets are augmented; leave it at 0")
    if spec.task == Task.regression and spec.loss not in REGRESSION_LOSSES:
        allowed = ", ".join(sorted(loss.value for loss in REGRESSION_LOSSES))
        raise ValueError(f"loss '{spec.loss.value}' needs class labels; for regression use "
                         f"one of: {allowed}")
    if spec.task == Task.classification:
        if "loss" not in spec.model_fields_set:
            spec.loss = LossName.cross_entropy
        elif spec.loss != LossName.cross_entropy:
            raise ValueError(f"loss '{spec.loss.value}': sequence classification uses "
                             "'cross_entropy'")
    per_step = spec.sequence_mode == SequenceMode.many_to_many
    if per_step and data.name in WHOLE_SEQUENCE_SETS:
        raise ValueError(f"sequence_mode 'many_to_many' needs a target at every step; the "
                         f"{data.name.value} set has one answer per sequence; use 'many_to_one'")
    if spec.bptt > data.seq_len:
        raise ValueError(f"bptt: must be 0 (the whole sequence) to dataset.seq_len "
                         f"({data.seq_len}) (got {spec.bptt})")
    for index, layer in enumerate(spec.model.layers):
        if not isinstance(layer, RecurrentLayer):
            continue
        at = f"model.layers.{index}"
        if layer.type != "rnn" and layer.nonlinearity != "tanh":
            raise ValueError(f"{at}.nonlinearity: only 'rnn' layers take 'relu'; "
                             f"'{layer.type}' uses its gates")
        if layer.dropout > 0 and layer.num_layers < 2:
            raise ValueError(f"{at}.dropout: acts between stacked cells; set num_layers to 2 "
                             f"or more, or dropout to 0")
    if data.name == DatasetName.text:
        _check_text(spec)
    stack_shapes(spec.model.layers, (data.seq_len, sequence_features(spec)), "model",
                 per_step=per_step)
    n_train = spec.train_size
    if n_train < 1:
        raise ValueError("dataset.test_fraction leaves no training sequences")
    if spec.batch_size > n_train:
        raise ValueError(f"batch_size {spec.batch_size} is larger than the training set "
                         f"({n_train} sequences); use 1 to {n_train}")


def _check_text(spec: ExperimentSpec) -> None:
    from nnplay.data.sequences import text_of, text_vocabulary

    text = text_of(spec.dataset)
    vocabulary = text_vocabulary(spec.dataset)
    if len(vocabulary) > LIMITS.max_vocabulary:
        raise ValueError(f"dataset.text: has {len(vocabulary)} distinct characters; at most "
                         f"{LIMITS.max_vocabulary} are allowed")
    if len(text) <= spec.dataset.seq_len + 1:
        raise ValueError(f"dataset.seq_len: {spec.dataset.seq_len} needs a text longer than "
                         f"{spec.dataset.seq_len + 1} characters (got {len(text)})")
