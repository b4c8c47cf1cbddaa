"""CloudThrift notifier service."""
