"""The link server: one-click unsubscribe (RFC 8058), optional click and open tracking."""
