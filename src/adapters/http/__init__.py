"""The HTTP API (Starlette) that drives the dosing use cases."""
