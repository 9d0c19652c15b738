"""The conditions a run is reported under: machine, PostgreSQL, settings, git revision."""

from __future__ import annotations

import argparse
import os
import subprocess
from typing import Any

from ingestlib.database import public_url, server_version
from ingestlib.settings import ROOT


def git_revision() -> str:
    """The short git revision, "+dirty" if src/ has uncommitted changes; "?" without git."""
    try:
        revision = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no", "src")
    except OSError:
        return "?"
    return revision + ("+dirty" if dirty else "")


def _git(*arguments: str) -> str:
    """The stripped output of a git command run in the project."""
    completed = subprocess.run(["git", *arguments], cwd=ROOT, capture_output=True, text=True)
    return completed.stdout.strip()


def collect(
    args: argparse.Namespace, admin_url: str, bench_url: str, clients: int
) -> dict[str, Any]:
    """The conditions of a run with options `args` and `clients` clients (asks the server
    at `admin_url` for its version; `bench_url` is reported without its password)."""
    conditions: dict[str, Any] = {
        "mode": mode(args.bulk),
        "cpus": os.cpu_count(),
        "load_avg_before": round(os.getloadavg()[0], 2),
        "postgresql": server_version(admin_url),
        "database": public_url(bench_url),
        "workers": args.workers,
        "pool_size": args.pool_size or "default (10 + 10 overflow)",
        "clients": clients,
        "client": args.client,
        "client_procs": min(args.client_procs, clients),
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "members": args.members,
        "revision": git_revision(),
    }
    if args.bulk:
        conditions["batch_size"] = args.batch_size
    return conditions


def mode(bulk: bool) -> str:
    """The run's mode: "bulk" (batches and CSV import) or "single"."""
    return "bulk" if bulk else "single"
