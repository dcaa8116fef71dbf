"""The team's web dashboard: server-rendered pages over the store, behind a login."""
