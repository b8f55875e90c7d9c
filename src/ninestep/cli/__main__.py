"""``python -m ninestep.cli`` runs the command-line tool (same as ``ninestep``)."""

from . import main

raise SystemExit(main())
