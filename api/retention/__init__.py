"""Retention: recognition events are deleted once older than their limit (GDPR storage
limitation), by one process of the cluster at a time under a database lease.

`purge` deletes in bounded batches; `worker` is the thread each API worker runs.
"""
