"""Free-running sequence networks: text generated character by character, a sine
continued value by value (`POST /api/jobs/{id}/generate` and the `sample` frame).

Each new step re-reads the last `seq_len` steps from a zero state, the way the network
was trained, and appends what it predicts.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from nnplay.data.sequences import text_vocabulary
from nnplay.models.network import Network
from nnplay.spec import LIMITS, DatasetName, ExperimentSpec, SequenceMode
from nnplay.spec.sequences import sequence_features

TEXT_RUNS = frozenset({DatasetName.text})
VALUE_RUNS = frozenset({DatasetName.sine, DatasetName.sines})


def last_output(network: Network, window: Tensor) -> Tensor:
    """The network's raw output `(k,)` after reading `window` `(1, length, features)`."""
    h = window
    for module in network.body:
        h = module(h)
    return h[0, -1] if h.dim() == 3 else h[0]  # per-step output (1, length, k), else (1, k)


def generate_text(network: Network, vocabulary: str, seq_len: int, prompt: str, length: int,
                  temperature: float, generator: torch.Generator | None = None) -> str:
    """`length` characters following `prompt`, sampled at `temperature` (0: the likeliest)."""
    ids = [vocabulary.index(c) for c in prompt] or [0]
    eye = torch.eye(len(vocabulary))
    device = next(network.parameters()).device
    out: list[int] = []
    with torch.no_grad():
        for _ in range(length):
            window = eye[ids[-seq_len:]].unsqueeze(0).to(device)  # (1, <= seq_len, vocab)
            logits = last_output(network, window).cpu()
            if temperature <= 0:
                pick = int(logits.argmax())
            else:
                probabilities = torch.softmax(logits / temperature, dim=0)
                pick = int(torch.multinomial(probabilities, 1, generator=generator))
            ids.append(pick)
            out.append(pick)
    return "".join(vocabulary[i] for i in out)


def generate_values(network: Network, seq_len: int, seed_values: list[float],
                    length: int) -> list[float]:
    """`length` values continuing `seed_values`, each prediction fed back as input."""
    values = list(seed_values)
    device = next(network.parameters()).device
    with torch.no_grad():
        for _ in range(length):
            window = torch.tensor(values[-seq_len:], dtype=torch.float32).reshape(1, -1, 1)
            values.append(float(last_output(network, window.to(device))[0]))
    return values[len(seed_values):]


def _number(body: dict[str, Any], key: str, low: float, high: float, default: Any,
            whole: bool = False) -> Any:
    value = body.get(key, default)
    kind = "a whole number" if whole else "a number"
    if isinstance(value, bool) or not isinstance(value, int | float) or \
            (whole and not float(value).is_integer()) or not math.isfinite(value) or \
            not low <= value <= high:
        raise ValueError(f"{key}: must be {kind} between {low:g} and {high:g} "
                         f"(got {value!r})")
    return int(value) if whole else float(value)


def check_generate(spec: ExperimentSpec, body: Any) -> dict[str, Any]:
    """The generate request checked against the run (ValueError naming the field)."""
    name = spec.dataset.name
    if name not in TEXT_RUNS | VALUE_RUNS:
        raise ValueError(f"generate takes text runs (prompt, length, temperature) and sine "
                         f"runs (seed_values, length); this run trains on "
                         f"'{name.value}'")
    if not isinstance(body, dict):
        raise ValueError("send a JSON object")
    allowed = {"prompt", "length", "temperature"} if name in TEXT_RUNS \
        else {"seed_values", "length"}
    extra = sorted(set(body) - allowed)
    if extra:
        raise ValueError(f"{extra[0]}: not a field of a {name.value} run's generate request "
                         f"(fields: {', '.join(sorted(allowed))})")
    length = _number(body, "length", 1, LIMITS.max_generate_length, 200, whole=True)
    if name in TEXT_RUNS:
        prompt = body.get("prompt", "")
        if not isinstance(prompt, str) or len(prompt) > LIMITS.max_text_length:
            raise ValueError(f"prompt: must be a string of at most {LIMITS.max_text_length} "
                             "characters")
        vocabulary = text_vocabulary(spec.dataset)
        unknown = sorted(set(prompt) - set(vocabulary))
        if unknown:
            raise ValueError(f"prompt: {as_list(unknown)} never occur in the training text; "
                             "use only its characters")
        temperature = _number(body, "temperature", 0.0, LIMITS.max_temperature, 1.0)
        return {"prompt": prompt, "length": length, "temperature": temperature}
    seeds = body.get("seed_values")
    top = LIMITS.max_seed_value
    if not isinstance(seeds, list) or not 1 <= len(seeds) <= LIMITS.max_seq_len or any(
            isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v)
            or abs(v) > top for v in seeds):
        raise ValueError(f"seed_values: must be a list of 1 to {LIMITS.max_seq_len} numbers "
                         f"between {-top:g} and {top:g}")
    return {"seed_values": [float(v) for v in seeds], "length": length}


def as_list(chars: list[str]) -> str:
    """Characters for an error message: `'#', '@'`."""
    return ", ".join(repr(c) for c in chars[:10])


def generate(spec: ExperimentSpec, state: dict[str, Tensor], body: Any) -> dict[str, Any]:
    """Answer a generate request with the weights `state`: `{"text"}` or `{"values"}`."""
    request = check_generate(spec, body)
    data = spec.dataset
    per_step = spec.sequence_mode == SequenceMode.many_to_many
    if data.name in TEXT_RUNS:
        vocabulary = text_vocabulary(data)
        network = Network(spec.model, data.seq_len * len(vocabulary), len(vocabulary),
                          (data.seq_len, len(vocabulary)), per_step=per_step)
    else:
        network = Network(spec.model, data.seq_len, 1, (data.seq_len, sequence_features(spec)),
                          per_step=per_step)
    network.load_state_dict(state)
    network.eval()
    if data.name in TEXT_RUNS:
        generator = torch.Generator().manual_seed(spec.seed)
        return {"text": generate_text(network, vocabulary, data.seq_len, request["prompt"],
                                      request["length"], request["temperature"], generator)}
    return {"values": [round(v, 6) for v in generate_values(
        network, data.seq_len, request["seed_values"], request["length"])]}
