"""Loyalty: the programme, tiers, and the append-only points ledger."""
