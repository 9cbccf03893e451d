"""The root click group, error handling and plugin commands."""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

import click

from .. import __version__
from ..errors import GanzooError, Interrupted, cli_message

#: command name -> "module:attribute"; modules are imported when the command is first looked up
COMMANDS = {
    "list": "ganzoo.cli.catalog:list_cmd",
    "info": "ganzoo.cli.catalog:info_cmd",
    "plugins": "ganzoo.cli.catalog:plugins_cmd",
    "train": "ganzoo.cli.train:train_cmd",
    "data": "ganzoo.cli.data:data_group",
    "eval": "ganzoo.cli.eval:eval_cmd",
    "sample": "ganzoo.cli.sample:sample_cmd",
    "push": "ganzoo.cli.hub:push_cmd",
    "export": "ganzoo.cli.hub:export_cmd",
    "stylize": "ganzoo.cli.stylize:stylize_cmd",
    "new-plugin": "ganzoo.cli.scaffold:new_plugin_cmd",
}
#: commands that run networks: each gets a ``--threads N`` option (see :mod:`.threads`)
THREADED = ("train", "sample", "eval", "stylize")
#: exit status of a command the user stopped with Ctrl-C (128 + SIGINT, the shell's convention)
EXIT_INTERRUPTED = 130


class UserError(click.ClickException):
    """A mistake the user can fix: one line on stderr, exit status 2."""

    exit_code = 2


class GanzooGroup(click.Group):
    """Loads built-in commands lazily and turns ganzoo errors into one-line click errors."""

    _plugin_host: object | None = None

    def add_plugin_commands(self) -> None:
        """Let plugins add commands, once per loaded plugin host (cheap: no torch)."""
        from ..plugins import get_host

        host = get_host()
        if self._plugin_host is not host:
            self._plugin_host = host
            host.add_commands(self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self.add_plugin_commands()
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        self.add_plugin_commands()
        command = self.commands.get(name)
        target = COMMANDS.get(name)
        if command is None and target is not None:
            module, attr = target.split(":")
            import importlib

            command = getattr(importlib.import_module(module), attr)
        if command is not None and name in THREADED:
            _add_threads_option(command)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Interrupted as exc:  # the user's own stop is not an error
            click.echo(f"ganzoo: {cli_message(exc)}", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except GanzooError as exc:
            raise UserError(cli_message(exc)) from None
        except KeyboardInterrupt:
            click.echo("ganzoo: interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)


def _add_threads_option(command: click.Command) -> None:
    """Give a command that runs networks the ``--threads`` option, once."""
    if not any(p.name == "threads" for p in command.params):
        from .threads import threads_option

        command.params.append(threads_option())


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    click.echo(f"ganzoo: warning: {message}", err=True)


@click.group(cls=GanzooGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="ganzoo")
def cli() -> None:
    """ganzoo: train, sample, share and load GANs and style-transfer models.

    Models come from plugins (`ganzoo plugins`); `ganzoo list` shows them and
    `ganzoo info NAME` shows a model's options.
    """


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ganzoo`` script."""
    warnings.showwarning = _one_line_warning
    if os.environ.get("RANK", "0") != "0":  # torchrun: rank 0 alone speaks (same code, same data)
        warnings.simplefilter("ignore")
    args = sys.argv[1:] if argv is None else argv
    try:
        cli.main(args=args, prog_name="ganzoo", standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return 0
