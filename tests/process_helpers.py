"""The platform's commands as real processes (`python -m orchestration.cli ...` in the repository,
as `make` starts them), and `make ui`'s GraphQL API, for the tests that need them."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from orchestration.settings import REPO_ROOT

CLI = [sys.executable, "-m", "orchestration.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """A command in the repository, its output (both streams) in `log`, in a process group of its
    own that `stop` ends."""
    with open(log, "wb") as out:
        return subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen, grace_seconds: float = 10) -> None:
    """Ctrl-C for the command's whole process group (`dagster dev` then shuts down its webserver,
    daemon and code server), and SIGKILL for whatever is left after `grace_seconds`."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace_seconds)
    with contextlib.suppress(ProcessLookupError):  # children that outlived the command, too
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def graphql(url: str, query: str, variables: dict | None = None) -> dict:
    """The `data` of a query to the webserver's GraphQL API; an error in the answer fails."""
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        answer = json.loads(response.read())
    assert "errors" not in answer, answer["errors"]
    return answer["data"]


def start_ui(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    """`make ui` on a free port: the process and the webserver's URL (maybe not serving yet)."""
    port = free_port()
    return start([*CLI, "ui", "--port", str(port)], env, log), f"http://127.0.0.1:{port}"


def wait_for_ui(url: str, process: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    """Wait until the webserver serves the code location's assets; fail with the log's end if it
    exits or takes longer than `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if graphql(url, "{ assetNodes { id } }")["assetNodes"]:
                return
        except OSError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, (
            f"Dagster UI did not load the code location; log:\n{log.read_text()[-3000:]}"
        )
        time.sleep(1)
