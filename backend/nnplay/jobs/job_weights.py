"""Answers from a job's weights: the weights themselves, predictions, generated
sequences and a restored run's last picture.

The weights come from wherever they live now: the trainer (thread executor), a
checkpoint the job's worker writes on request (worker processes, Ray), or the last
checkpoint on disk (a finished or restored run). The manager owns the jobs; this
owns reading their networks after the fact.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from nnplay.jobs.checkpoints import CheckpointError, CheckpointStore
from nnplay.jobs.executors import Executor
from nnplay.jobs.job import Job
from nnplay.jobs.runner import FrameEncoder, Frames
from nnplay.jobs.status import JobStatus
from nnplay.spec import IMAGE_SHAPES
from nnplay.train.generate import check_generate, generate
from nnplay.train.loop import TrainerOptions
from nnplay.train.predict import check_image, is_image_classifier, predict
from nnplay.train.trainer import make_trainer

WORKER_CHECKPOINT_WAIT = 5.0  # s a request waits for a running job's worker to checkpoint


class JobWeights:
    """Reads jobs' networks: live, from their worker on request, or from disk."""

    def __init__(self, get: Callable[[str], Job], executor: Executor,
                 checkpoints: CheckpointStore | None, data_dir: Path | None,
                 encode_frames: FrameEncoder) -> None:
        self._get = get  # the manager's lookup (raises UnknownJob)
        self._encode_frames = encode_frames
        self._executor = executor
        self._checkpoints = checkpoints
        self._data_dir = data_dir

    def network_state(self, job_id: str) -> tuple[dict[str, Any], int]:
        """A job's weights and their step: live from its trainer, else from its checkpoint."""
        job = self._get(job_id)
        trainer = job.trainer
        if trainer is not None:
            state = {k: v.detach().cpu().clone() for k, v in
                     trainer.network.state_dict().items()}
            return state, trainer.step
        if self._checkpoints is None:
            raise ValueError("the job has no weights yet: it has not started")
        if job.status in (JobStatus.running, JobStatus.paused):
            # The trainer lives in a worker process: ask it for a checkpoint now.
            job.checkpoint_saved.clear()
            self._executor.request_checkpoint(job.id)
            job.checkpoint_saved.wait(WORKER_CHECKPOINT_WAIT)
        try:
            checkpoint = self._checkpoints.load(job.id)
        except CheckpointError as error:
            raise ValueError(f"no weights for this job: {error}") from None
        return checkpoint["network"], int(checkpoint["step"])

    def predict(self, job_id: str, image: Any, feature_maps: bool = False) -> dict[str, Any]:
        """An image classifier's answer for one image, with the weights of `network_state`."""
        job = self._get(job_id)
        if not is_image_classifier(job.spec):
            raise ValueError("this run is not an image classifier: predict takes runs of task "
                             "'classification' on digits, mnist or fashion_mnist")
        check_image(image, IMAGE_SHAPES[job.spec.dataset.name])  # before asking a worker
        state, _ = self.network_state(job_id)
        return predict(job.spec, state, image, self._data_dir, feature_maps)

    def generate(self, job_id: str, body: Any) -> dict[str, Any]:
        """A sequence run's free-running output (text or values), like `predict`."""
        job = self._get(job_id)
        check_generate(job.spec, body)  # before asking a worker
        state, _ = self.network_state(job_id)
        return generate(job.spec, state, body)

    def restored_frames(self, job: Job) -> Frames | None:
        """The frames of a finished run that sent none here (one restored from the store),
        probed from its last checkpoint and kept as its latest frames."""
        if job.latest_frames is not None:
            return job.latest_frames
        if self._checkpoints is None:
            return None
        try:
            state = self._checkpoints.load(job.id)
        except CheckpointError:
            return None
        trainer = make_trainer(job.spec, TrainerOptions(
            metrics_interval=0, snapshot_interval=0, data_dir=self._data_dir))
        trainer.load_state_dict(state)
        job.start_info = trainer.start_info()
        job.latest_frames = self._encode_frames(trainer.snapshot())
        return job.latest_frames


__all__ = ["JobWeights"]
