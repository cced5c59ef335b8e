"""Webhook signature maths for each vendor. Pure; constant-time comparisons only."""
