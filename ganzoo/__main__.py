"""``python -m ganzoo`` runs the CLI (and ``torchrun -m ganzoo train ...`` uses it)."""

import sys

from .cli import main

sys.exit(main())
