"""Constants shared by the benchmark: where the project is, and what it benchmarks with."""

from __future__ import annotations

from pathlib import Path

#: The project's root directory (the parent of `bench/`).
ROOT = Path(__file__).resolve().parents[2]
#: The project's virtual environment's executables (`patron`, `py-spy`).
BIN = ROOT / ".venv" / "bin"
#: The PostgreSQL server used when PATRON_DATABASE_URL is not set.
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
#: The tenant created in the bench database.
TENANT = "bench"
#: The currency of the program and of every order.
CURRENCY = "USD"
#: The address the server listens on and the clients connect to.
HOST = "127.0.0.1"
