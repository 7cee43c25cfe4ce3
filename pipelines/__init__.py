"""Command-line entry points; each parses arguments, builds a config and calls the packages."""
