"""Outgoing mail: an outbox in MongoDB drained by the workers over SMTP (docs/account.md)."""
