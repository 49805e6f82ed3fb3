"""Entry point for gunicorn (`wsgi:app`) and the `flask` CLI (found here automatically)."""

from web import create_app

app = create_app()
