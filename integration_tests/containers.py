"""Builds the connectors' images with the container engine at hand (podman, else docker) and runs them as Airbyte does.

- `engine()`: the engine that works here, or None with the reason (`engine_problem()`).
- `build_image(name)`: the image of one connector from the repo's Dockerfile, built once per test session. BASE_IMAGE
  is $CONTACTS_BASE_IMAGE if set, else the local stand-in for python:3.11-slim-bookworm that
  ../shared/tools/make-python-base-image.sh makes (no registry is reachable here), else the Dockerfile's default.
- `run_in_container(image, verb, tmp_path, ...)`: like connector.run_connector, with the files mounted at /secrets and
  the host's network, so a sandbox on 127.0.0.1 is reachable from the container.
- `docker_api()`: a Docker CLI that reaches the engine, for airbyte-cdk's own image tests (which shell out to `docker`):
  with podman, its Docker-compatible API (`podman system service`) through DOCKER_HOST; with docker, docker itself;
  with a `docker` wrapper first on PATH that adds `--network host` to `docker run` (the tests' configs point at the
  loopback sandbox, and podman's API puts containers on a bridge whatever containers.conf says).
"""

import atexit
import functools
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Optional

from integration_tests.connector import Run

ROOT = Path(__file__).resolve().parent.parent
STAND_IN_BASE = "localhost/python:3.11-slim-bookworm"
TAG = "dev"
CONNECTORS = ("source-contacts", "destination-contacts")


def _works(*command: str, env: Optional[dict] = None, timeout: float = 60) -> bool:
    """Whether `command` exits 0 within `timeout`; `env` adds to the environment."""
    try:
        return subprocess.run(command, capture_output=True, timeout=timeout, env={**os.environ, **(env or {})}).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@functools.lru_cache(maxsize=None)
def engine() -> Optional[str]:
    for name in ("podman", "docker"):
        path = shutil.which(name)
        if path and _works(path, "info"):
            return path
    return None


def engine_problem() -> str:
    found = [name for name in ("podman", "docker") if shutil.which(name)]
    if not found:
        return "no container engine: neither podman nor docker is on PATH (apt-get install podman runc)"
    return f"{' and '.join(found)} found, but `{found[0]} info` fails: no working engine"


def base_image() -> Optional[str]:
    """The BASE_IMAGE to build on, or None for the Dockerfile's default (the real base, pinned by digest)."""
    if os.environ.get("CONTACTS_BASE_IMAGE"):
        return os.environ["CONTACTS_BASE_IMAGE"]
    if _works(engine(), "image", "inspect", STAND_IN_BASE):
        return STAND_IN_BASE
    return None


@functools.lru_cache(maxsize=None)
def build_image(name: str) -> str:
    """Builds `airbyte/<name>:dev` and returns its tag; a build failure fails the test that asked for it."""
    assert name in CONNECTORS, name
    tag = f"airbyte/{name}:{TAG}"
    command = [engine(), "build", "--build-arg", f"CONNECTOR_NAME={name}", "-t", tag]
    if base := base_image():
        command += ["--build-arg", f"BASE_IMAGE={base}"]
    completed = subprocess.run([*command, str(ROOT)], capture_output=True, text=True, timeout=1800)
    if completed.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed:\n{completed.stdout[-4000:]}\n{completed.stderr[-4000:]}")
    return tag


def run_in_container(
    image: str,
    verb: str,
    tmp_path: Path,
    config: Optional[dict] = None,
    catalog: Optional[dict] = None,
    state: Optional[list] = None,
    stdin: Optional[str] = None,
    timeout: float = 600,
) -> Run:
    # The image runs as uid 1000: the mounted folder and files must be readable by it.
    secrets = Path(tempfile.mkdtemp(prefix="secrets-", dir=tmp_path))
    secrets.chmod(0o755)
    args = []
    for option, value in (("config", config), ("catalog", catalog), ("state", state)):
        if value is not None:
            path = secrets / f"{option}.json"
            path.write_text(json.dumps(value))
            path.chmod(0o644)
            args += [f"--{option}", f"/secrets/{option}.json"]
    command = [engine(), "run", "--rm", "--network", "host", "-v", f"{secrets}:/secrets:Z"]
    if stdin is not None:
        command.append("-i")
    completed = subprocess.run([*command, image, verb, *args], input=stdin, capture_output=True, text=True, timeout=timeout)
    return Run.from_output(completed.returncode, completed.stdout, completed.stderr)


# --- airbyte-cdk's image tests: a `docker` CLI that reaches an engine ---------------------------------------------

_WRAPPER = """#!/bin/sh
# Written by integration_tests/containers.py: `docker run` on the host's network, so the loopback sandbox is reachable.
if [ "$1" = run ]; then shift; exec {docker} run --network host "$@"; fi
exec {docker} "$@"
"""


@functools.lru_cache(maxsize=None)
def docker_api() -> tuple:
    """(environment for the CDK's `docker` calls, None) or (None, why not). Started once per session; see module doc."""
    docker = shutil.which("docker")
    if not docker:
        return None, "the docker CLI is not on PATH (airbyte-cdk's image tests shell out to `docker`)"
    if engine() is None:
        return None, engine_problem()
    workdir = Path(tempfile.mkdtemp(prefix="contacts-docker-api-"))
    env = {}
    if Path(engine()).name == "podman":
        # The images are in podman's store: the docker CLI talks to podman's Docker-compatible API.
        socket = workdir / "podman.sock"
        log = open(workdir / "service.log", "w")
        service = subprocess.Popen(
            [engine(), "system", "service", "--time=0", f"unix://{socket}"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        _started.append(service)
        atexit.register(stop_docker_api)
        env["DOCKER_HOST"] = f"unix://{socket}"
        deadline = time.monotonic() + 30
        while not _works(docker, "version", env=env, timeout=30):
            if service.poll() is not None or time.monotonic() > deadline:
                return None, f"`podman system service` gave no Docker API: {(workdir / 'service.log').read_text()[-2000:]}"
            time.sleep(0.2)
    wrapper = workdir / "bin" / "docker"
    wrapper.parent.mkdir()
    wrapper.write_text(_WRAPPER.format(docker=docker))
    wrapper.chmod(0o755)
    env["PATH"] = f"{wrapper.parent}{os.pathsep}{os.environ['PATH']}"
    return env, None


_started: list = []


def stop_docker_api() -> None:
    for service in _started:
        service.terminate()
        try:
            service.wait(timeout=10)
        except subprocess.TimeoutExpired:
            service.kill()
    _started.clear()
    docker_api.cache_clear()
