"""The Flask web tier."""

from web.app import create_app

__all__ = ["create_app"]
