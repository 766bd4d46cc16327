"""The supportkit command line."""

from supportkit.cli.main import main

__all__ = ["main"]
