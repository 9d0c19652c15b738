"""The HTTP API (FastAPI): routers per resource; no business logic lives here."""
