"""Coverage: whether a trail that is logging delivers each in-scope bucket's object writes (PutObject, CopyObject,
CompleteMultipartUpload, PostObject) to EventBridge, where the object path's rules receive them. No AWS calls here.

- keys.py: sets of one bucket's object keys (prefix, suffix, exact key, and their unions, intersections and
  complements), and whether such a set is every key, some keys or none, decided exactly.
- selectors.py: CloudTrail's basic and advanced event selectors as the CloudTrail API Reference and User Guide
  document them -> for a bucket and each write event, the keys whose writes a trail records.
- report.py: the trails and the buckets -> per bucket: covered or not, by which trails, and why not.

The trails are read by aws/cloudtrail.py; the command is `dsse-remediate coverage` (cli/coverage.py).
"""
