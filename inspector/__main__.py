"""``python -m inspector`` runs the ``inspect`` command."""

from inspector.cli.main import main

raise SystemExit(main())
