"""`smscast serve`: the web server (API, docs, later the dashboard)."""

from __future__ import annotations

import typer

from smscast.config import load_settings


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        host: str = typer.Option(None, help="Address to listen on [default: 127.0.0.1]"),
        port: int = typer.Option(None, help="Port to listen on [default: 8000]"),
    ) -> None:
        """Serve the API and the dashboard."""
        import uvicorn

        from smscast.api.app import create_app

        settings = load_settings()
        uvicorn.run(
            create_app(settings),
            host=host or settings.host,
            port=port or settings.port,
            log_level=settings.log_level,
        )
