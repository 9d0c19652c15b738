"""Patron: a self-hosted loyalty and rewards engine with an exactly-once points ledger."""

__version__ = "0.1.0"
