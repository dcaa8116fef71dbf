"""The `outbound` command line: thin commands that load settings, call one function, render."""
