"""Scheduled work: each job is a function of (unit of work, day), also a CLI command."""
