"""``python -m inspector`` runs the ``inspect`` command."""

from inspector.cli import main

raise SystemExit(main())
