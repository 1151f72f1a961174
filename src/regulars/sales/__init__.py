"""Sales: receipts and returns from every till, recorded exactly once."""
