"""CloudThrift executor service."""
