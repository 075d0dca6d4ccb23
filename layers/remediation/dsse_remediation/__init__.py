"""dsse-remediation: keep S3 objects and buckets encrypted with DSSE-KMS under the configured key.

The domain modules (config, scope, verdict, remediation, alerts) import neither Lambda nor Powertools;
`triggers` is the one module that reads Lambda event shapes.
"""

__version__ = "0.1.0"
USER_AGENT = f"dsse-remediation/{__version__}"
