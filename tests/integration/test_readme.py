"""The README's curl examples work as written, against a live server with the demo."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import Engine

from patron.services.demo import run_demo
from tests.conftest import Clock

README = Path(__file__).resolve().parents[2] / "README.md"


def _curl_blocks() -> list[str]:
    section = README.read_text().split("## Use it with curl", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_readme_curl_examples(live_server: str, engine: Engine, clock: Clock) -> None:
    # given the demo, and the README's variables pointed at this server and demo key
    demo = run_demo(engine, clock.now)
    assert demo.api_key is not None
    blocks = _curl_blocks()
    assert blocks[0].startswith("export PATRON=")
    script = [f"export PATRON={live_server}", f"export KEY={demo.api_key}", "set -e"]
    outputs = []
    for block in blocks[1:]:
        result = subprocess.run(
            ["bash", "-c", "\n".join([*script, block])], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, (block, result.stderr)
        outputs.append(result.stdout)
        # keep CODE (and anything else a block exports) for the blocks after it
        if "CODE=$(" in block:
            script.append(f"export CODE={result.stdout.strip()}")
    enrolled, paid, refunded, member, code, checkout = outputs
    assert json.loads(enrolled)["external_id"] == "alice"
    assert json.loads(paid)["points"] == 42
    assert json.loads(refunded)["points_reversed"] == 21
    assert json.loads(member)["balance"]["available"] == 21
    assert re.fullmatch(r"DEMO-[0-9A-Z]{12}\n", code)
    validated, consumed = (json.loads(part) for part in checkout.replace("}{", "}\n{").splitlines())
    assert validated["valid"] is True
    assert consumed["status"] == "consumed"
