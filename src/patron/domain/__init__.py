"""Pure domain model: no I/O, no clock, no SQLAlchemy. Everything here is deterministic."""
