"""``python -m supportkit`` runs the command line."""

from supportkit.cli.main import main

raise SystemExit(main())
