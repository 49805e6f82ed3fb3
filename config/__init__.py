"""Typed settings read from the environment once, and logging setup."""

from config.settings import Settings, get_settings, load_settings, use_settings

__all__ = ["Settings", "get_settings", "load_settings", "use_settings"]
