"""Campaign reports: per-group rates, lead-source economics, A/B significance, and an HTML page."""
