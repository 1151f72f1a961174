"""Market baskets: stored rule runs, suggestions at the till, shelf and promotion reports."""
