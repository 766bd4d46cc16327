"""``python -m supportkit`` runs the command line."""

from supportkit.cli import main

raise SystemExit(main())
