"""Exceptions ganzoo raises for things a user can fix.

Every one carries a message that says what is wrong and what to do, on one line. The CLI prints
them without a traceback and exits with status 2; Python callers can catch :class:`GanzooError`.
"""

from __future__ import annotations


class GanzooError(Exception):
    """Base class of every error caused by input a user can correct.

    ``cli`` is the same message for the command line, where it differs: a Python caller is told
    about arguments (``backbone_weights='random'``), a shell user about flags
    (``--random-weights``). The CLI prints :func:`cli_message`.
    """

    def __init__(self, *args: object, cli: str | None = None) -> None:
        super().__init__(*args)
        self.cli_message = cli


def cli_message(exc: BaseException) -> str:
    """The message of ``exc`` as the command line shows it."""
    return getattr(exc, "cli_message", None) or str(exc)


class UnknownNameError(GanzooError, KeyError):
    """A model, loss, dataset or trainer name that nothing registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ConfigError(GanzooError, ValueError):
    """A configuration key that does not exist or a value of the wrong type."""


class RegistrationError(GanzooError):
    """A plugin registered something invalid (a duplicate name, a missing builder, ...)."""


class PluginError(GanzooError):
    """A plugin could not be imported or is incompatible with this ganzoo."""


class DataError(GanzooError):
    """A dataset could not be found or holds no usable images."""


class WeightsError(GanzooError):
    """Weights are missing, truncated, tampered with or of a format ganzoo refuses to load."""


class HubError(GanzooError):
    """The Hugging Face Hub could not be reached or refused a request."""


class Interrupted(GanzooError):
    """The user stopped a command (Ctrl-C). Not a mistake: the message says what was kept and
    how to go on; the CLI prints it plainly and exits with 130, the shell's status for SIGINT."""
