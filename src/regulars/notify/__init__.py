"""Messages to members (SMS, email) queued in an outbox table for a sender to deliver."""
