"""The HTTP API (FastAPI). Routes call use-case functions; none writes tables itself."""
