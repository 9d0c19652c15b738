"""CPU accounting from /proc: per process, for PostgreSQL, idle time, and per event."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from pathlib import Path

#: A backend's host(port) in its process title.
_CLIENT_ADDRESS = re.compile(r"\S*\(\d+\)")


def _ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


def _user_system_ticks(pid: int) -> tuple[int, int] | None:
    """(user, system) clock ticks used so far by `pid`; None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]), int(fields[12])


def cpu_by_pid(pids: Sequence[int]) -> dict[int, float]:
    """User + system CPU seconds used so far by each of `pids` that is alive."""
    result = {}
    for pid in pids:
        ticks = _user_system_ticks(pid)
        if ticks is not None:
            result[pid] = sum(ticks) / _ticks()
    return result


def system_cpu(pids: Sequence[int]) -> float:
    """System (kernel) CPU seconds used so far by those of `pids` that are alive."""
    ticks = (_user_system_ticks(pid) for pid in pids)
    return sum(pair[1] for pair in ticks if pair is not None) / _ticks()


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two readings by processes alive at the second one."""
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())


def idle_seconds() -> float:
    """Idle + iowait seconds of all CPUs since boot (/proc/stat)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()
    return (int(fields[4]) + int(fields[5])) / _ticks()


def postgres_pids(database: str) -> list[int]:
    """PostgreSQL's own processes and the backends of `database` (not other databases')."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        title = _postgres_title(entry)
        if title is not None and _serves(title, database):
            pids.append(int(entry.name))
    return pids


def _postgres_title(entry: Path) -> str | None:
    """The process title of /proc entry `entry` if it is a PostgreSQL process."""
    try:
        if (entry / "comm").read_text().strip() not in ("postgres", "postmaster"):
            return None
        return (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return None


def _serves(title: str, database: str) -> bool:
    """Whether a PostgreSQL process belongs to `database`: a backend of it, or not a
    backend at all. Backends: "postgres: [cluster:] user database host(port) activity"."""
    parts = title.split()
    hosts = [i for i, part in enumerate(parts) if _CLIENT_ADDRESS.fullmatch(part)]
    return not hosts or parts[hosts[0] - 1] == database


class CpuSampler:
    """CPU used by some processes (the server's, or pgbench) and by PostgreSQL during a
    window; called with the window's monotonic bounds, it sleeps until its end."""

    def __init__(self, server_pids: list[int], database: str) -> None:
        self.server_pids = server_pids
        self.database = database
        self.server_cpu = 0.0
        self.server_system_cpu = 0.0
        self.postgres_cpu = 0.0
        self.idle_fraction = 0.0

    def __call__(self, begin: float, end: float) -> None:
        time.sleep(max(0.0, begin - time.monotonic()))
        server0 = cpu_by_pid(self.server_pids)
        system0 = system_cpu(self.server_pids)
        pg0 = cpu_by_pid(postgres_pids(self.database))
        idle0 = idle_seconds()
        time.sleep(max(0.0, end - time.monotonic()))
        idle1 = idle_seconds()
        self.server_cpu = cpu_delta(server0, cpu_by_pid(self.server_pids))
        self.server_system_cpu = system_cpu(self.server_pids) - system0
        self.postgres_cpu = cpu_delta(pg0, cpu_by_pid(postgres_pids(self.database)))
        self.idle_fraction = (idle1 - idle0) / ((end - begin) * (os.cpu_count() or 1))


def other_cpu(sampler: CpuSampler, ours: float, client_cpu: Sequence[float]) -> float:
    """Cores busy with something else than the server, PostgreSQL (`ours`, in cores) and
    our clients (other work on a shared machine makes the numbers lower and noisier)."""
    busy = (os.cpu_count() or 1) * (1 - sampler.idle_fraction)
    return round(max(0.0, busy - ours - sum(client_cpu)), 2)


def cpu_per_event(rate: float, **cores: float) -> dict[str, float]:
    """CPU milliseconds per event (or transaction) of each party (`cores` used at `rate`
    per second), their total, and the rate the machine would sustain if it did nothing
    else and the work stayed CPU-bound: a figure that the other load of a shared machine
    disturbs far less than the measured rate. Empty if `rate` is 0."""
    if not rate:
        return {}
    result = {name: round(value / rate * 1000, 3) for name, value in cores.items()}
    total = sum(result.values())
    result["total"] = round(total, 3)
    result["cpu_bound_rate"] = round((os.cpu_count() or 1) * 1000 / total, 1) if total else 0
    return result


def server_figures(
    sampler: CpuSampler, duration: float, events_per_s: float, client_cpu: Sequence[float]
) -> dict[str, float | dict[str, float]]:
    """The CPU figures of a load run, from `sampler` over a window of `duration` s:
    server and PostgreSQL cores, the server's kernel share, the machine's idle fraction,
    the other load's cores, and CPU ms per event (server, PostgreSQL, clients)."""
    server, postgres = sampler.server_cpu / duration, sampler.postgres_cpu / duration
    server_cores, postgres_cores = round(server, 2), round(postgres, 2)
    kernel = sampler.server_system_cpu / sampler.server_cpu if sampler.server_cpu else 0.0
    return {
        "server_cpu_cores": server_cores,
        "postgres_cpu_cores": postgres_cores,
        "server_system_cpu_share": round(kernel, 2),
        "machine_idle": round(sampler.idle_fraction, 2),
        "other_cpu_cores": other_cpu(sampler, server_cores + postgres_cores, client_cpu),
        "cpu_ms_per_event": cpu_per_event(
            events_per_s, server=server, postgres=postgres, client=sum(client_cpu)
        ),
    }
