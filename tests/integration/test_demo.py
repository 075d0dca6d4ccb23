"""The README's first command: the demo must pass, not just print."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_ends_with_every_object_in_scope_compliant_and_nothing_lost() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "RESULT: every object in scope is DSSE-KMS under the key, nothing lost" in done.stdout
    assert "out-of-scope" in done.stdout
    assert "{'compliant': 5}: no loop" in done.stdout
