"""`python -m services` is the `cloudthrift` command."""

from services.cli import main

main()
