"""The `patron` command: db upgrade, demo (idempotent), verify, tenants, keys, import."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from patron.services.importer import COLUMNS

PATRON = [sys.executable, "-m", "patron.cli"]


def _run(url: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATRON_DATABASE_URL": url, "COLUMNS": "200"}
    return subprocess.run(
        [*PATRON, *args], env=env, capture_output=True, text=True, timeout=300, cwd=cwd
    )


@pytest.fixture
def url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_demo_is_idempotent_and_verifies(url: str, engine: Engine) -> None:
    first = _run(url, "demo")
    assert first.returncode == 0, first.stderr
    assert re.search(r"ptn_[0-9a-f]{12}_[0-9a-f]{48}", first.stdout)
    assert "http://127.0.0.1:8000/docs" in first.stdout
    with engine.connect() as connection:
        members = connection.execute(text("SELECT COUNT(*) FROM members")).scalar_one()
        orders = connection.execute(text("SELECT COUNT(*) FROM orders")).scalar_one()
    assert (members, orders) == (50, 300)
    # one of each growth program, and a referral code for every member
    with engine.connect() as connection:
        growth = [
            connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
            for table in (
                "segments",
                "membership_plans",
                "charities",
                "campaigns",
                "referral_codes",
            )
        ]
    assert growth == [1, 1, 1, 1, 50]
    second = _run(url, "demo")
    assert second.returncode == 0, second.stderr
    assert "existed already" in second.stdout
    with engine.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM orders")).scalar_one() == 300
    verified = _run(url, "verify")
    assert verified.returncode == 0, verified.stdout
    assert "ledger OK" in verified.stdout


def test_verify_exits_non_zero_and_names_the_offender(url: str, engine: Engine) -> None:
    assert _run(url, "demo").returncode == 0
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE member_balances SET available = available + 1 WHERE member_id = 7")
        )
    result = _run(url, "verify")
    assert result.returncode == 1
    assert "balance differs from its lots: ids [7]" in result.stdout


def test_tenants_and_keys(url: str) -> None:
    created = _run(
        url, "tenants", "create", "shop", "--currency", "EUR", "--time-zone", "Asia/Taipei"
    )
    assert created.returncode == 0, created.stdout + created.stderr
    duplicate = _run(url, "tenants", "create", "shop")
    assert duplicate.returncode == 2 and "exists" in duplicate.stdout
    bad_zone = _run(url, "tenants", "create", "other", "--time-zone", "Mars/Base")
    assert bad_zone.returncode == 2 and "unknown time zone" in bad_zone.stdout
    key = _run(url, "keys", "create", "--tenant", "shop", "--scopes", "read")
    assert key.returncode == 0 and key.stdout.strip().startswith("ptn_")
    bad_scope = _run(url, "keys", "create", "--tenant", "shop", "--scopes", "root")
    assert bad_scope.returncode == 2
    key_id = key.stdout.strip().split("_")[1]
    assert _run(url, "keys", "revoke", "--tenant", "shop", key_id).returncode == 0
    assert _run(url, "keys", "revoke", "--tenant", "shop", key_id).returncode == 2


def test_import_csv_in_batches_and_again_writes_nothing(
    url: str, engine: Engine, tmp_path: Path
) -> None:
    assert _run(url, "tenants", "create", "shop").returncode == 0
    path = tmp_path / "orders.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for number in range(25):
            for line in range(2):
                writer.writerow(
                    [
                        f"o{number}",
                        f"c{number % 7}",
                        f"c{number % 7}@example.com",
                        "2026-03-01T10:00:00+08:00",
                        "USD",
                        f"l{line}",
                        f"s{line}",
                        "misc",
                        2,
                        1_050,
                        100,
                        500,
                        0,
                        4_500,
                    ]
                )
    first = _run(url, "import", str(path), "--tenant", "shop", "--batch-size", "10")
    assert first.returncode == 0, first.stdout + first.stderr
    assert json.loads(first.stdout.strip().splitlines()[-1]) == {
        "created": 25,
        "replayed": 0,
        "rejected": 0,
    }
    again = _run(url, "import", str(path), "--tenant", "shop", "--batch-size", "10")
    assert json.loads(again.stdout.strip().splitlines()[-1]) == {
        "created": 0,
        "replayed": 25,
        "rejected": 0,
    }
    with engine.connect() as connection:
        # each order: 2 lines x (2 x 10.50 - 1.00) = 40.00 -> 40 points
        assert (
            connection.execute(text("SELECT SUM(available) FROM member_balances")).scalar_one()
            == 1000
        )
