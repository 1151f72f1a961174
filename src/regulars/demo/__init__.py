"""The demo store, built from the public Complete Journey data (``../shared/data``)."""
