"""``python -m supportkit`` runs the command line."""

from supportkit.cli.main import run

raise SystemExit(run())
