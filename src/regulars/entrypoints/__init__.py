"""Entrypoints: the web app and the command line, both thin over the services."""
