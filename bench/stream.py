"""Stream benchmark: many jobs, one websocket viewer each, against a real server on loopback.

Starts `nnplay serve` on a free loopback port, then for each level (number of
concurrent jobs) creates that many jobs of a preset, opens one websocket per job
(a thread each, through `nnplay.client`), measures for `--seconds`, and stops
them. Prints one JSON object:

- `steps_per_s`: training steps per second of each job (min, median);
- `frames_per_s`: boundary frames per second each viewer receives (min, median);
- `latency_ms`: receipt time minus the frame header's `t` (when the server made it), p50/p95;
- `cpu`: cores the server (with its worker processes) and this load generator used;
- `engine`: steps/s of one streamed job against a bare PyTorch loop of the same
  network, data and batch size, run in this process just before and just after it
  (the server idle), so machine noise hits both alike.

`--mix same` gives every job the preset with its own seed ("everyone on the same
lesson"); `--mix classroom` cycles through five presets, each job with its own seed
and learning rate. `--cohorts on` starts the server with `NNPLAY_COHORTS=on`. Each level
also gives `cohort_keys` (distinct cohort keys among its specs: with W worker processes a
key forms up to W cohorts), the event loop's CPU (the server's main thread) per boundary
frame delivered, the load average, and which targets it `meets`; `meets_targets` says the
largest level at which all per-job targets held.

`--executor ray` then runs the same levels again on a second server whose jobs train
on a local Ray (`NNPLAY_EXECUTOR=ray`, as many actors as local workers) and adds
`ray`: its levels and, per level, Ray's figures over local's (`ratios`). Its
`server_cores` leave out the Ray actors (they are not the server's children).

    .venv/bin/python bench/stream.py --levels 1,10,50 --seconds 5
    .venv/bin/python bench/stream.py --jobs 50,100,200 --mix classroom --cohorts on
    .venv/bin/python bench/stream.py --jobs 1,10,50 --executor ray
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import torch

from nnplay.client import Client
from nnplay.data import build_dataset
from nnplay.models.network import build_network
from nnplay.presets import get_preset
from nnplay.spec import ExperimentSpec, parse_spec
from nnplay.train.cohort_key import cohort_key
from nnplay.train.heads import make_head
from nnplay.train.optimizers import build_optimizer

MAX_STEPS = 1_000_000  # more than any level trains; jobs are stopped after measuring
WARM_UP = 10.0  # seconds a level waits for every viewer's first frame before measuring
BARE_SECONDS = 1.5  # each bare-loop measurement (one before, one after the one-job level)
TARGETS = {"steps_per_s_min": 60, "frames_per_s_min": 15, "latency_p95_ms": 150,
           "engine_ratio": 0.9}


# The classroom mix: (preset, race variant or None), as tests/train/test_cohort.py.
CLASSROOM = (("spiral", None), ("optimizers", "Adam"), ("circle", None),
             ("batch-vs-online", "mini-batch (10)"), ("overfitting", None))


def job_specs(mix: str, preset: str, jobs: int) -> list[dict[str, Any]]:
    """The specs of a level's jobs: the same preset, or a classroom of five presets."""
    specs = []
    for i in range(jobs):
        name, label = (preset, None) if mix == "same" else CLASSROOM[i % len(CLASSROOM)]
        runs = get_preset(name).race({"max_steps": MAX_STEPS})
        base = runs[0][1] if label is None else next(s for run, s in runs if run == label)
        update: dict[str, Any] = {"seed": i,
                                  "dataset": base.dataset.model_copy(update={"seed": i})}
        if mix == "classroom":  # each student tries a learning rate of their own
            update["optimizer"] = base.optimizer.model_copy(
                update={"lr": base.optimizer.lr * (1 + (i % 7) / 10)})
        specs.append(base.model_copy(update=update).model_dump(mode="json"))
    return specs


# ----- the server ------------------------------------------------------------------------


def _free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(data_dir: Path, env: dict[str, str], timeout: float = 120.0
                 ) -> tuple[subprocess.Popen[bytes], str]:
    """Start `nnplay serve` on loopback and wait for /api/health; returns (process, url)."""
    port = _free_port()
    log = (data_dir / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "nnplay.cli", "serve", "--host", "127.0.0.1", "--port",
         str(port)], stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "NNPLAY_DATA_DIR": str(data_dir), "NNPLAY_LOG_LEVEL": "warning",
             **env})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early; see {data_dir / 'server.log'}")
        try:
            if httpx.get(f"{url}/api/health", timeout=1.0).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"server did not answer within {timeout} s")


def stop_server(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM, then SIGKILL if it has not ended within `timeout` s."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()


def wait_until_training(url: str, jobs: int, timeout: float = 300.0) -> None:
    """Wait until `jobs` short jobs have completed: every worker process is up (on a busy
    machine spawning them takes longer than /api/health answering; a level measured
    before would count their start-up)."""
    with Client(url, timeout=60.0) as client:
        ids = [client.create_job(preset="spiral", overrides={"max_steps": 20})["id"]
               for _ in range(jobs)]
        deadline = time.monotonic() + timeout
        while any(client.job(i)["status"] != "completed" for i in ids):
            if time.monotonic() > deadline:
                raise RuntimeError(f"warm-up jobs did not complete within {timeout} s")
            time.sleep(0.2)
        for job_id in ids:
            client.delete(job_id)


def _family(pid: int) -> list[int]:
    """`pid` and its child processes (Linux /proc)."""
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        pids += [int(child) for child in (task / "children").read_text().split()]
    return pids


def _rss_mb(pid: int) -> float | None:
    """Resident memory of `pid` and its child processes in MiB, else None."""
    try:
        total = 0
        for each in _family(pid):
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        return total / 1024
    except (OSError, ValueError):
        return None


def _thread_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of `pid`'s main thread (the server's event loop), else None."""
    try:
        fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of `pid` and its child processes (Linux /proc), else None."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            children = (task / "children").read_text().split()
            pids += [int(child) for child in children]
        for each in pids:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    except (OSError, ValueError, IndexError):
        return None
    return total


# ----- one viewer ------------------------------------------------------------------------


@dataclass
class Viewer:
    """One websocket reader: when each boundary frame arrived and how late it was."""

    job_id: str
    frames: list[tuple[float, float]] = field(default_factory=list)  # (receipt, latency s)
    messages: int = 0
    error: str | None = None
    ready: threading.Event = field(default_factory=threading.Event)

    def run(self, client: Client, stop: threading.Event) -> None:
        """Read the stream until `stop` is set; never slower than the server sends."""
        try:
            with client.stream(self.job_id) as stream:
                connection = stream.connection
                while not stop.is_set():
                    try:
                        message = connection.recv(timeout=0.5)
                    except TimeoutError:
                        continue
                    self.messages += 1
                    if isinstance(message, bytes):
                        now = time.time()
                        length = int.from_bytes(message[:4], "little")
                        header = json.loads(message[4:4 + length])
                        if header["type"] == "boundary":
                            self.frames.append((now, now - header.get("t", now)))
                            self.ready.set()
        except Exception as error:  # reported in the output, not raised
            self.error = f"{type(error).__name__}: {error}"
            self.ready.set()


def _progress(job: dict[str, Any]) -> tuple[int, float | None]:
    """A job's newest metrics point as (step, training seconds); seconds None without one."""
    point = job.get("metrics") or {}
    return int(point.get("step", job["step"])), point.get("elapsed")


def _rate(before: tuple[int, float | None], after: tuple[int, float | None],
          window: float) -> float:
    """Steps per second between two metrics points of one job.

    A point's step and training time belong together, so their differences give the
    rate however old each point was when read; at 150 points a second per worker a
    member of a 150-member cohort sends one about every second, and dividing by the
    wall window instead would be off by up to that second. Without two distinct
    points the wall window is used.
    """
    (step_a, at_a), (step_b, at_b) = before, after
    if at_a is not None and at_b is not None and at_b - at_a > window / 2:
        return (step_b - step_a) / (at_b - at_a)
    return (step_b - step_a) / window


def _quantile(values: list[float], q: float) -> float | None:
    """The `q` quantile (nearest rank) of `values`, None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def _round(value: float | None, digits: int = 1) -> float | None:
    """`value` rounded, None kept."""
    return None if value is None else round(value, digits)


def run_level(url: str, server_pid: int, specs: list[dict[str, Any]], seconds: float,
              frame_rate: float) -> dict[str, Any]:
    """Train one job per spec with one viewer each and measure them for `seconds`."""
    jobs = len(specs)
    client = Client(url, timeout=60.0)
    # One identity first: parallel first requests would each be given their own (the
    # cookie jar keeps one), and the deletes below would be refused with 403.
    client.identity()
    pool = ThreadPoolExecutor(max_workers=min(jobs, 16))
    ids = list(pool.map(lambda spec: client.create_job(spec, frame_rate=frame_rate)["id"],
                        specs))
    stop = threading.Event()
    viewers = [Viewer(job_id) for job_id in ids]
    threads = [threading.Thread(target=v.run, args=(Client(url), stop), daemon=True)
               for v in viewers]
    for thread in threads:
        thread.start()
    try:
        # Warm-up: every job trains and every viewer has its first frame (or time is up).
        deadline = time.monotonic() + WARM_UP
        for viewer in viewers:
            viewer.ready.wait(max(0.0, deadline - time.monotonic()))
        statuses = {job["id"]: job["status"] for job in client.jobs()}

        cpu_before, own_before = _cpu_seconds(server_pid), time.process_time()
        loop_before = _thread_cpu_seconds(server_pid)
        steps_before = {job["id"]: _progress(job) for job in client.jobs()}
        start_wall = time.time()
        time.sleep(seconds)
        steps_after = {job["id"]: _progress(job) for job in client.jobs()}
        end_wall = time.time()
        cpu_after, own_after = _cpu_seconds(server_pid), time.process_time()
        loop_after = _thread_cpu_seconds(server_pid)
        rss = _rss_mb(server_pid)
    finally:
        stop.set()
        for thread in threads:
            thread.join(5.0)
        def delete(job_id: str) -> None:
            try:  # the next level needs quiet: a job left running would skew it
                client.delete(job_id)
            except Exception as error:
                print(f"could not delete {job_id}: {error}", file=sys.stderr)

        list(pool.map(delete, ids))  # in parallel: each delete waits for its job to end
        pool.shutdown()
        client.close()

    window = end_wall - start_wall
    steps = [_rate(steps_before[i], steps_after[i], window) for i in ids]
    frames = [sum(start_wall <= t <= end_wall for t, _ in v.frames) / window for v in viewers]
    latencies = [lat * 1000 for v in viewers for t, lat in v.frames if start_wall <= t <= end_wall]
    server_cores = ((cpu_after - cpu_before) / window
                    if cpu_before is not None and cpu_after is not None else None)
    total_steps = sum(steps) * window
    # Every message a viewer got (frames and JSON) went through the event loop.
    loop = (loop_after - loop_before) if loop_before is not None and loop_after is not None \
        else None
    received = sum(sum(start_wall <= t <= end_wall for t, _ in v.frames) for v in viewers)
    return {
        "jobs": jobs,
        "running": sum(status == "running" for status in statuses.values()),
        "steps_per_s": {"min": _round(min(steps)), "median": _round(statistics.median(steps)),
                        "total": _round(sum(steps))},
        "frames_per_s": {"min": _round(min(frames)), "median": _round(statistics.median(frames)),
                         "viewers_without_frames": sum(rate == 0 for rate in frames)},
        "latency_ms": {"p50": _round(_quantile(latencies, 0.5)),
                       "p95": _round(_quantile(latencies, 0.95)),
                       "max": _round(max(latencies) if latencies else None)},
        "cpu": {"server_cores": _round(server_cores, 2),
                "load_generator_cores": _round((own_after - own_before) / window, 2),
                "server_ms_per_step": _round(server_cores * window * 1000 / total_steps, 3)
                if server_cores is not None and total_steps else None,
                "event_loop_cores": _round(loop / window, 2) if loop is not None else None,
                # event-loop CPU per boundary frame delivered (with its neurons, weights
                # and metrics messages: everything the loop sent for that snapshot)
                "event_loop_us_per_boundary": _round(loop * 1e6 / received)
                if loop is not None and received else None},
        "cohort_keys": len({cohort_key(parse_spec(spec)) for spec in specs}),
        "server_rss_mb": _round(rss),
        "viewer_errors": sorted({v.error for v in viewers if v.error}),
        "seconds": round(window, 2),
    }


# ----- the bare loop ---------------------------------------------------------------------


def bare_steps_per_s(spec: ExperimentSpec, seconds: float) -> float:
    """Steps/s of a hand-written PyTorch loop: same data, network, head, optimizer and batch."""
    data = build_dataset(spec)
    head = make_head(spec.task, spec.loss, data.n_classes)
    torch.manual_seed(spec.seed)
    network = build_network(spec.model, data.n_inputs, head.out_units)
    optimizer = build_optimizer(spec.optimizer, network.parameters())
    x, t = data.x_train, head.targets(data.y_train)  # (n, f), (n,) or (n, k)
    n, batch = x.shape[0], spec.batch_size
    generator = torch.Generator().manual_seed(spec.seed)
    network.train()
    steps = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        order = torch.randperm(n, generator=generator)
        for begin in range(0, n, batch):
            index = order[begin:begin + batch]
            loss = head.loss(network(x[index]), t[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss.item()
            steps += 1
    return steps / (time.perf_counter() - started)


# ----- Ray against local -----------------------------------------------------------------


def _wait_for_actors(url: str, timeout: float = 300.0) -> None:
    """Wait until every Ray actor of the server has started (health lists its pid)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workers = httpx.get(f"{url}/api/health", timeout=10.0).json().get("workers") or []
        if workers and all(worker.get("pid") for worker in workers):
            return
        time.sleep(0.5)
    raise RuntimeError(f"the server's Ray actors did not start within {timeout} s")


def ray_levels(env: dict[str, str], levels: list[int], args: argparse.Namespace,
               local: list[dict[str, Any]]) -> dict[str, Any]:
    """The same levels on a server training on a local Ray, and their ratios to local's."""
    env = {**env, "NNPLAY_EXECUTOR": "ray", "NNPLAY_RAY_ADDRESS": ""}
    results = []
    with tempfile.TemporaryDirectory(prefix="nnplay-bench-ray-") as folder:
        process, url = start_server(Path(folder), env, timeout=300.0)
        try:
            _wait_for_actors(url)
            for jobs in sorted(set(levels)):  # as the local levels ran
                results.append(run_level(url, process.pid, job_specs(args.mix, args.preset, jobs),
                                         args.seconds, args.frame_rate))
        finally:
            stop_server(process, 30)

    def ratio(ray_value: float | None, local_value: float | None) -> float | None:
        return round(ray_value / local_value, 3) if ray_value and local_value else None

    ratios = [{"jobs": on_ray["jobs"],
               "steps_per_s_median": ratio(on_ray["steps_per_s"]["median"],
                                           here["steps_per_s"]["median"]),
               "frames_per_s_median": ratio(on_ray["frames_per_s"]["median"],
                                            here["frames_per_s"]["median"]),
               "latency_p95": ratio(on_ray["latency_ms"]["p95"], here["latency_ms"]["p95"])}
              for on_ray, here in zip(results, local, strict=True)]
    return {"levels": results, "ratios": ratios}


# ----- main ------------------------------------------------------------------------------


def _meets(level: dict[str, Any]) -> dict[str, bool]:
    """Which of DESIGN.md's per-job targets one level meets."""
    return {
        "steps_per_s_min": (level["steps_per_s"]["min"] or 0) >= TARGETS["steps_per_s_min"],
        "frames_per_s_min": (level["frames_per_s"]["min"] or 0) >= TARGETS["frames_per_s_min"],
        "latency_p95_ms": (level["latency_ms"]["p95"] or math.inf) < TARGETS["latency_p95_ms"],
    }


def _verdict(levels: list[dict[str, Any]], engine: dict[str, Any]) -> dict[str, Any]:
    """Whether the largest level and the engine ratio meet DESIGN.md's targets, and the
    largest level at which every per-job figure still held (None: not even the first)."""
    held = [level["jobs"] for level in levels if all(_meets(level).values())]
    return {"jobs": levels[-1]["jobs"], **_meets(levels[-1]),
            "engine_ratio": (engine["ratio"] or 0) >= TARGETS["engine_ratio"],
            "largest_level_meeting_all": max(held) if held else None}


def main() -> None:
    """Run the levels and the engine comparison, and print the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", "--jobs", default="1,10,50",
                        help="concurrent jobs per level, e.g. 50,100,200")
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring time per level")
    parser.add_argument("--preset", default="spiral")
    parser.add_argument("--frame-rate", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=None,
                        help="server worker processes (default: the server's own default; "
                             "0: threads in the server process)")
    parser.add_argument("--mix", choices=("same", "classroom"), default="same",
                        help="same: every job the preset; classroom: five presets, own lrs")
    parser.add_argument("--cohorts", choices=("on", "off"), default="on",
                        help="NNPLAY_COHORTS of the server (default on, as the server)")
    parser.add_argument("--cohort-min-size", type=int, default=3,
                        help="NNPLAY_COHORT_MIN_SIZE of the server")
    parser.add_argument("--executor", choices=("local", "ray"), default="local",
                        help="ray: also run the levels on Ray and compare with local")
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]
    torch.set_num_threads(1)  # as the server does
    env = {"NNPLAY_MAX_RUNNING_JOBS": str(max(100, *levels)),
           "NNPLAY_COHORT_MIN_SIZE": str(args.cohort_min_size),
           # twice the largest level: a level's deleted jobs may still be ending
           "NNPLAY_MAX_JOBS": str(2 * max(200, *levels)), "NNPLAY_COHORTS": args.cohorts,
           "NNPLAY_MAX_JOBS_PER_USER": str(2 * max(200, *levels))}
    if args.workers is not None:
        env["NNPLAY_WORKERS"] = str(args.workers)

    started = time.monotonic()
    load_before = os.getloadavg()
    spec = get_preset(args.preset).build({"max_steps": MAX_STEPS})
    bare_steps_per_s(spec, 0.3)  # warm up torch in this process
    bare: list[float] = []
    results = []
    with tempfile.TemporaryDirectory(prefix="nnplay-bench-") as folder:
        process, url = start_server(Path(folder), env)
        try:
            wait_until_training(url, args.workers or os.cpu_count() or 1)
            for jobs in sorted(set(levels) | {1}):
                if jobs == 1:  # the engine ratio: bare loop just before and just after
                    bare.append(bare_steps_per_s(spec, BARE_SECONDS))
                result = run_level(url, process.pid, job_specs(args.mix, args.preset, jobs),
                                   args.seconds, args.frame_rate)
                if jobs == 1:
                    bare.append(bare_steps_per_s(spec, BARE_SECONDS))
                    one = result
                if jobs in levels:
                    result["meets"] = _meets(result)
                    result["loadavg"] = [round(x, 2) for x in os.getloadavg()]
                    results.append(result)
        finally:
            stop_server(process, 15)
    served = one["steps_per_s"]["median"] or 0.0
    bare_mean = statistics.mean(bare)
    engine = {"server_steps_per_s": served, "bare_steps_per_s": [round(b, 1) for b in bare],
              "ratio": round(served / bare_mean, 3) if bare_mean else None}
    report = {
        "levels": results,
        "engine": engine,
        "targets": TARGETS,
        "meets_targets": _verdict(results, engine),
        "preset": args.preset,
        "mix": args.mix,
        "cohorts": args.cohorts,
        "frame_rate": args.frame_rate,
        "workers": args.workers if args.workers is not None else "server default",
        "cpus": os.cpu_count(),
        "loadavg_before": [round(x, 2) for x in load_before],
        "torch": torch.__version__,
        "wall_s": round(time.monotonic() - started, 1),
    }
    if args.executor == "ray":
        report["ray"] = ray_levels(env, levels, args, results)
        report["wall_s"] = round(time.monotonic() - started, 1)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
