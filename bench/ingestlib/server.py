"""The Patron server under test: `patron serve` as a subprocess in its own process group."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from ingestlib.settings import BIN, HOST, ROOT

#: Seconds a stopping server gets after SIGTERM before its process group is killed.
STOP_TIMEOUT = 20


def free_port() -> int:
    """A TCP port on HOST that nothing listened on a moment ago."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class Server:
    """`patron serve` on a free port of HOST, in its own process group (so that stopping it
    stops its workers), with its output in `log`."""

    def __init__(self, bench_url: str, workers: int, pool_size: int | None, log: Path) -> None:
        self.port = free_port()
        self.log = log
        env = {**os.environ, "PATRON_DATABASE_URL": bench_url}
        if pool_size is not None:
            env["PATRON_POOL_SIZE"] = str(pool_size)
        command = [str(BIN / "patron"), "serve", "--host", HOST, "--port", str(self.port)]
        command += ["--workers", str(workers)]
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(
            command,
            env=env,
            cwd=ROOT,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        """Return once /healthz answers 200; raise if the server exits or times out."""
        deadline = time.monotonic() + timeout
        url = f"http://{HOST}:{self.port}/healthz"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"patron serve exited:\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"patron serve did not answer /healthz in {timeout:.0f} s")

    def worker_pids(self) -> list[int]:
        """The uvicorn worker processes (children of `patron serve`), or the server itself
        if it has none."""
        pids = []
        for pid in _children(self.process.pid):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            if b"resource_tracker" not in cmdline:
                pids.append(pid)
        return pids or [self.process.pid]

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it after STOP_TIMEOUT s; idempotent."""
        if self.process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.process.wait()
        self._log_file.close()

    def _signal(self, number: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, number)


@contextlib.contextmanager
def running_server(bench_url: str, workers: int, pool_size: int | None) -> Iterator[Server]:
    """A started server that answers /healthz, stopped on leaving the block (which may stop
    it again). Its log is in a temporary directory, removed on success and named on
    standard error if the block raised."""
    log_dir = Path(tempfile.mkdtemp(prefix="patron-bench-"))
    server = Server(bench_url, workers, pool_size, log_dir / "server.log")
    failed = True
    try:
        server.wait_ready()
        yield server
        failed = False
    finally:
        server.stop()
        if failed:
            print(f"server log: {server.log}", file=sys.stderr)
        else:
            shutil.rmtree(log_dir, ignore_errors=True)


def _children(pid: int) -> list[int]:
    """The child processes of `pid` (none if it is gone)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(part) for part in text.split()]
