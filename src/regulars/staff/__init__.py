"""Staff: accounts, roles and authentication for the staff API and pages."""
