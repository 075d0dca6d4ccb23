"""A stand-in for the Lambda context object, as Powertools' examples use in tests.

Its remaining time is its timeout less what its clock says has passed: a test's clock moves only when the test moves
it (say, by 100 s after each UploadPartCopy), so nothing sleeps and nothing depends on the machine's speed.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType


@dataclass
class Clock:
    """Seconds passed since the invocation started; moved by the test alone."""

    elapsed: float = 0.0

    def advance(self, seconds: float) -> None:
        self.elapsed += seconds


@dataclass
class LambdaContext:
    function_name: str = "dsse-remediation-ObjectRemediation"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:dsse-remediation-ObjectRemediation"
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"
    timeout_seconds: float = 300.0  # the function's timeout: the remaining time when the invocation starts
    clock: Clock = field(default_factory=Clock)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - self.clock.elapsed) * 1000))


def load_function(name: str) -> ModuleType:
    """Import functions/<name>/app.py afresh, as a cold start does (it reads the environment at import)."""
    path = Path(__file__).resolve().parent.parent / "functions" / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"{name}_app", path)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
