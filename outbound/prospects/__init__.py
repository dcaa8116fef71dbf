"""Prospects: the people we write to, their import from CSV, and their plain values."""
