"""`python -m dsse_remediation.cli`: the same as the `dsse-remediate` console script."""

import sys

from . import main

sys.exit(main())
