"""Posture: how much of a bucket (and of the estate) is DSSE-KMS under the configured key, in objects and bytes, for
current and noncurrent versions, read from a listing (HeadObject per version) or from an S3 Inventory report.

Pure: the AWS reads are in aws/s3_posture.py; the command is cli/posture.py.
"""
