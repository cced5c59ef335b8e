"""The database job queue: transactional enqueue, leased claims, retries, dead letters."""
