"""The operators' audit log: append-only, hash-chained, in the inventory database."""
from .log import AuditEntry, record, entries, verify

__all__ = ["AuditEntry", "record", "entries", "verify"]
