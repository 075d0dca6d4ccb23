"""One adapter module per AWS service; the only modules that call boto3."""
