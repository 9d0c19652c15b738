"""Request and response shapes shared by the API, the services and the CLI (pydantic v2).

Inputs are strict: integers are integers (never floats), unknown fields are refused, and
every amount is bounded, so bad input fails validation before anything is written.
"""
