"""Run bqemulator (DuckDB-backed BigQuery REST emulator) offline, as a subprocess for tests.

bqemulator installs and loads DuckDB's ``spatial`` extension at start-up (GEOGRAPHY support),
which downloads it from extensions.duckdb.org and fails offline. Its settings have no switch for
that, so this runner replaces ``DuckDBEngine._load_spatial`` with a no-op before starting the
server: billing queries use no GEOGRAPHY functions. Run as a script: ``python
bigquery_emulator.py REST_PORT GRPC_PORT PROJECT``.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_emulator(project: str, *, timeout: float = 60.0) -> Iterator[str]:
    """Start the emulator on free local ports; yield its REST URL; stop it on exit."""
    rest_port, grpc_port = _free_port(), _free_port()
    process = subprocess.Popen([sys.executable, str(Path(__file__)), str(rest_port), str(grpc_port), project],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{rest_port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"bqemulator exited: {process.stderr.read().decode()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"bqemulator did not answer on {url} within {timeout}s") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _serve(rest_port: int, grpc_port: int, project: str) -> None:
    from bqemulator.config import PersistenceMode, Settings
    from bqemulator.server import run_forever
    from bqemulator.storage.engine import DuckDBEngine

    DuckDBEngine._load_spatial = lambda self: None
    run_forever(Settings(persistence_mode=PersistenceMode.EPHEMERAL, rest_host="127.0.0.1", rest_port=rest_port,
                         grpc_host="127.0.0.1", grpc_port=grpc_port, default_project_id=project,
                         enable_format_extensions=False))


if __name__ == "__main__":
    _serve(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
