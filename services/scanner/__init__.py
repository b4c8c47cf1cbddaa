"""CloudThrift scanner service."""
