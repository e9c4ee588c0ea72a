"""Connectors to the outside world. They speak in events and never touch the database."""
