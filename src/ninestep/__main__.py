"""``python -m ninestep`` runs the command-line tool (same as ``ninestep``)."""

from .cli import main

raise SystemExit(main())
