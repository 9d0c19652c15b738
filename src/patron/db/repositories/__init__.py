"""Repositories: the SQL for one aggregate each. They never commit."""
