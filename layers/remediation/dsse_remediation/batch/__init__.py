"""The batch path: S3 Batch Operations jobs that bring existing objects to DSSE-KMS (the CLI's backfill, the scheduled
backstop), the task function's tasks, and the summary of each job that ends. The event path needs none of it: wiring.App
imports these modules only when a batch part is first used."""
