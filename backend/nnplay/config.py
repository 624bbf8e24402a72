"""Server and engine settings, read from `NNPLAY_*` environment variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting of a running nnplay, with its default."""

    model_config = SettingsConfigDict(env_prefix="NNPLAY_", extra="ignore")

    host: str = "127.0.0.1"  # 0.0.0.0 is opt-in: a classroom server must ask for it
    port: int = Field(8000, ge=1, le=65535)
    data_dir: Path = Path("data")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    torch_threads: int = Field(1, ge=1, le=64)  # tiny nets run fastest single-threaded
    # Worker processes that train jobs: None = one per CPU core; 0 = threads in the
    # server process (one interpreter lock for every job and the event loop).
    workers: int | None = Field(None, ge=0, le=64)
    max_running_jobs: int = Field(100, ge=1, le=1000)  # the rest wait in the queue
    max_jobs: int = Field(200, ge=1, le=10000)  # queued + running; past it, 429
    frame_rate: float = Field(20.0, gt=0, le=60)  # binary frames per second per job
    frame_budget: float = Field(0.1, gt=0, le=1)  # most of a job's time spent on frames
    # Of one core, what all the jobs of one process may spend on metrics and frames
    # together; with many jobs each reports less often, so training keeps the rest.
    report_share: float = Field(0.5, gt=0, le=1)
    # "on" (the default): jobs of one worker whose specs share a cohort key train as one
    # stacked model (nnplay.jobs.cohorts); "off": every job trains alone.
    cohorts: Literal["off", "on"] = "on"
    # Fewest members that train as one stacked model; fewer step solo. Measured on 2
    # cores (spiral and circle presets): a cohort of 2 steps ~1.0-1.3x as fast as two solo
    # runs, of 3 ~1.8x, of 4 ~2.8x, so 3 is where stacking starts to pay for its upkeep.
    cohort_min_size: int = Field(3, ge=2, le=1000)
    # Where jobs train: "local" (this machine's worker processes) or "ray" (actors on a
    # Ray cluster: pip install 'nnplay[ray]'). The Ray address: ray://HOST:10001 (Ray
    # Client), HOST:6379 (the head), "auto" (the cluster this machine is part of), or
    # empty: start a local Ray here. With Ray, `workers` is the number of actors
    # (default: the cluster's CPUs / ray_actor_cpus), each reserving ray_actor_cpus.
    executor: Literal["local", "ray"] = "local"
    ray_address: str = ""
    ray_actor_cpus: float = Field(1.0, ge=0, le=64)
    max_body_bytes: int = Field(256 * 1024, ge=1024)
    persist: bool = True  # keep runs in SQLite + checkpoints under data_dir
    # Changes held in memory while the disk is full; past it, points coalesce per run.
    store_max_held: int = Field(50_000, ge=100)
    checkpoint_interval: float = Field(10.0, gt=0)  # seconds between checkpoints of a run
    max_runs: int = Field(1000, ge=1)  # stored runs; the oldest finished are pruned past it
    max_checkpoint_bytes: int = Field(2**30, ge=0)  # checkpoint disk use before pruning
    idle_timeout: float = Field(600.0, gt=0)  # paused jobs with no viewer this long are stopped
    # Running jobs created with `pause_when_unwatched` (the page's) that nobody has
    # viewed or touched over REST this long are paused (a tab closed without a goodbye).
    unwatched_timeout: float = Field(300.0, gt=0)
    # Websockets: messages a client may send per second (and in one burst), and how
    # long the server's send buffer towards a client may stay full before it is closed.
    ws_message_rate: float = Field(50.0, gt=0)
    ws_message_burst: int = Field(100, ge=1)
    ws_stall_timeout: float = Field(15.0, gt=0)
    log_level: str = "info"
    # Who may do what (api/security.py). A class token is required off loopback.
    token: str | None = None  # the class token; generated when required and not given
    admin_token: str | None = None  # the teacher's; generated whenever a class token is on
    no_token: bool = False  # serve without a class token even off loopback (warns loudly)
    allow_hosts: str = ""  # extra Host names, comma-separated; "*" turns the check off
    max_jobs_per_user: int = Field(16, ge=1, le=10000)  # active jobs per identity; past it, 429

    def worker_count(self) -> int:
        """How many worker processes to start."""
        if self.workers is not None:
            return self.workers
        # The cores this process may use (a container's limit), not the machine's count.
        return max(1, len(os.sched_getaffinity(0)))
