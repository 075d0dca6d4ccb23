"""Write template.yaml as CloudFormation sees it after the SAM transform, so cfn-lint can check what SAM generates
(cfn-lint does not look inside a SAM function's Policies). Run with the tools environment's Python:

    AWS_DEFAULT_REGION=us-east-1 .venv-tools/bin/python scripts/transformed_template.py \\
        > .aws-sam/transformed-us-east-1.json

The SAM translator writes the AWS managed policy ARNs it attaches in the partition of AWS_DEFAULT_REGION (as `sam
deploy` does, in the stack's Region): `make template-checks` writes one per partition.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies:
    """The template names no managed policies by name, so no IAM look-up is needed (nor possible offline)."""

    def load(self) -> dict[str, str]:
        return {}


def main() -> int:
    text = Path("template.yaml").read_text(encoding="utf-8")
    # Local code locations are what `sam package` replaces with S3 locations; any S3 URI will do here.
    text = re.sub(r"(CodeUri|ContentUri): (\S+)/", lambda m: f"{m.group(1)}: s3://artifacts/{m.group(2)}.zip", text)
    template: dict[str, Any] = transform(yaml_parse(text), {}, NoManagedPolicies())
    json.dump(template, sys.stdout, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
