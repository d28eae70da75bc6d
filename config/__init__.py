"""Typed settings shared by every layer (the bottom of the import graph)."""

from config.settings import Settings, get_settings

__all__ = ["Settings", "get_settings"]
