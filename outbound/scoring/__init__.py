"""Engagement scoring, rules and escalation, outcomes in, and mailbox health from the events table."""
