"""Real server processes for tests: a free port, a start that waits until ready, a clean stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

AGENTS = (sys.executable, "-c", "from agents_api.cli import main; main()")
"""The ``agents`` command, run by this interpreter (the virtual environment's)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(
    argv: Sequence[str],
    *,
    port: int,
    env: Mapping[str, str],
    cwd: Path | None = None,
    timeout: float = 90,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` (a server listening on ``port``) and wait until ``/health/ready`` is 200.

    Its stdout and stderr are one pipe, read by :func:`stop`.
    """
    process = subprocess.Popen(
        list(argv),
        env={**os.environ, **env},
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            raise AssertionError(f"{argv} exited with {process.returncode}:\n{output}")
        try:
            if httpx.get(f"{base}/health/ready", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise AssertionError(f"{argv} did not become ready in {timeout:g} s")


def stop(process: subprocess.Popen[bytes]) -> str:
    """Interrupt the server as Ctrl-C would; return everything it printed."""
    process.send_signal(signal.SIGINT)
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output.decode()
