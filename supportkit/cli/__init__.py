"""The supportkit command line."""

from supportkit.cli.main import main, run

__all__ = ["main", "run"]
