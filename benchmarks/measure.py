"""Both benchmarks in one run: the cold-start import cost (benchmarks/imports.py) and the AWS API calls of every path
(benchmarks/calls.py), as one report or one JSON document.

    PYTHONPATH=layers/remediation:. python -m benchmarks.measure [--runs N] [--json]

`make bench` runs the two modules one after the other instead. The exit status is benchmarks/calls.py's: 1 when a
per-object case misses its expected outcome or S3 call count. benchmarks/load.py takes the shared fake-AWS pieces from
here (they live in benchmarks/common.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict

from benchmarks import calls, imports

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    imports.add_arguments(parser)
    args = parser.parse_args(argv)
    imports.check_arguments(parser, args)
    found = imports.measure_imports(args.runs)
    per_object, paths = calls.measure_api_calls()
    python = sys.version.split()[0]
    if args.json:
        document = {
            "python": python,
            "imports": asdict(found),
            "api_calls": list(map(asdict, per_object)),
            "bucket_and_key_paths": list(map(asdict, paths)),
        }
        print(json.dumps(document, indent=2))
    else:
        report = [f"Python {python}", "", *imports.format_imports(found), "", *calls.format_calls(per_object)]
        print("\n".join([*report, "", *calls.format_paths(paths)]))
    return calls.exit_status(per_object)


if __name__ == "__main__":
    sys.exit(main())
