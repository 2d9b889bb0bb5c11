"""Settings, defaults and the clock: everything the platform is configured by."""

from config.settings import Settings, get_settings

__all__ = ["Settings", "get_settings"]
