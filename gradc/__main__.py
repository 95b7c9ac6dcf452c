"""``python -m gradc dump ...``: the same as the ``gradc`` console script."""

from gradc.cli import main

raise SystemExit(main())
