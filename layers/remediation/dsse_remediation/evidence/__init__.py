"""Evidence: what an auditor keeps from a posture report. No AWS calls here.

- html.py: the posture document (dsse-remediation.posture/v1) -> one self-contained HTML5 file (inline CSS and SVG,
  no script, nothing fetched), every value escaped, the same bytes for the same document.
- athena.py: the Amazon Athena table AWS documents over an S3 Inventory's Hive symlink layout, and the posture query
  of one report (objects and bytes by bucket, current or noncurrent, EncryptionStatus), with its cost per billion rows.

The document is built by the posture command (`dsse-remediate posture --html FILE`).
"""
