"""Core plumbing shared by every domain: settings, database, unit of work, errors, i18n."""
