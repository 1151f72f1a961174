"""Personal shopping lists: deals, the list cycle, redemption at the till and results."""
