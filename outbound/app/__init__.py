"""The composition root: the one place that builds the engine's context from config and wires the daemon."""
