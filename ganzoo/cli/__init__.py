"""The ``ganzoo`` command line.

Every command lives in a module of its own and imports torch inside its function, so that
``ganzoo --help`` and ``ganzoo list`` answer quickly. Errors a user can fix
(:class:`ganzoo.GanzooError`) print one line and exit with status 2, never a traceback.
"""

from .main import UserError, cli, main

__all__ = ["UserError", "cli", "main"]
