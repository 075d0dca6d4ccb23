"""What `pip install .` ships: every package of the library. pyproject.toml lists them by hand (the source sits under
layers/remediation, the layer's folder), so a new subpackage must be added there or the CLI installed from a wheel
fails on its first import of it."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "layers" / "remediation"


def test_every_package_of_the_library_is_listed_for_installation() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(LIBRARY).parts) for init in (LIBRARY / "dsse_remediation").rglob("__init__.py")
    }

    assert found == listed
