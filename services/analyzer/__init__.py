"""CloudThrift analyzer service."""
