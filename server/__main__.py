"""``python -m server`` is the ``hotline`` command."""

from server.cli import main

main()
