"""Models of the files a user edits: sequences, sending domains, and their loading."""
