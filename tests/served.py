"""`kezek serve` as a real process on 127.0.0.1 for one test: a free port, ready once /healthz answers,
stopped by the test (SIGINT, as an operator would; killed if it hangs). Its output goes to a temporary file
that a failure quotes."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without Kezek's settings nor a Python path, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEZEK_") and k not in {"PYTHONPATH", "PYTHONHOME"}}
    env.update(extra)
    return env


@contextlib.contextmanager
def kezek_serve(
    kezek: Sequence[str],
    env: Mapping[str, str],
    cwd: Path,
    *,
    timeout: float = 60,
    args: Sequence[str] = (),
    worker: bool = False,
) -> Iterator[str]:
    """Runs `<kezek> serve --no-worker --port N [args]` (without `--no-worker` for `worker`); yields its base URL
    (http://127.0.0.1:N)."""
    port = free_port()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [*kezek, "serve", *([] if worker else ["--no-worker"]), "--port", str(port), *args],
            env=dict(env),
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

        def output() -> str:
            log.seek(0)
            return log.read().decode("utf-8", "replace")[-4000:]

        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise AssertionError(f"kezek serve exited with {proc.returncode}:\n{output()}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"kezek serve did not answer /healthz in {timeout:.0f} s:\n{output()}")
                try:
                    if httpx.get(f"{base}/healthz", timeout=0.5).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            try:
                yield base
            except BaseException:
                sys.stderr.write(f"--- kezek serve's output ---\n{output()}\n")  # pytest shows it with the failure
                raise
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
