"""The reader-safety gate: before the product's first write in a bucket (an object copied in place, the default
encryption reset, a Batch Operations job), whether converting it to DSSE-KMS would break who reads or writes it.

- facts.py: what read-only calls say about a bucket (BucketAccess) and its key's policy; no AWS calls.
- policies.py: IAM policy documents read as AWS evaluates them, for the questions the rules ask.
- iam.py: the grammar policies.py reads (statements, principals, wildcards, condition operators in three values).
- rules.py: facts -> a verdict (safe, safe with side effects, unsafe because ...), each reason with what to do.
- gate.py: the verdict per bucket, cached for a TTL, with the owner's acceptance; what every write path asks.
"""
