"""Members: registration, profile, household, consent, lookup and merge."""
