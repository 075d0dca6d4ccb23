"""Check the layer `sam build` produced: the library is there, and every compiled module is for the runtime and
architecture template.yaml names (CPython 3.13 on arm64), so the layer imports in Lambda."""

from __future__ import annotations

import re
import sys
from pathlib import Path

LAYER = Path(".aws-sam/build/RemediationLayer/python")
COMPATIBLE = re.compile(r"\.(cpython-313-aarch64-linux-gnu|abi3)\.so$")
REQUIRED = ("dsse_remediation", "aws_lambda_powertools", "boto3", "botocore", "aws_xray_sdk")


def main() -> int:
    if not LAYER.is_dir():
        print(f"{LAYER} is missing: run sam build first", file=sys.stderr)
        return 1
    missing = [name for name in REQUIRED if not (LAYER / name).is_dir()]
    foreign = [str(p.relative_to(LAYER)) for p in LAYER.rglob("*.so") if not COMPATIBLE.search(p.name)]
    arm = [p for p in LAYER.rglob("*.so") if "aarch64" in p.name]
    for problem, items in (("missing packages", missing), ("modules for another runtime or architecture", foreign)):
        if items:
            print(f"layer check failed, {problem}: {items}", file=sys.stderr)
    if missing or foreign:
        return 1
    print(f"layer ok: {', '.join(REQUIRED)} present; {len(arm)} compiled module(s), all CPython 3.13 aarch64")
    return 0


if __name__ == "__main__":
    sys.exit(main())
