"""The root click group: commands from the registry, and one-line errors."""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

import click

from .. import __version__
from ..errors import GanzooError, Interrupted, cli_message

#: The core's commands: name -> "module:attribute", registered by the core plugin
#: (ganzoo.builtins) through the registrar like a plugin's; each module is imported when the
#: command is first looked up. Plugins add theirs with registrar.add_command.
COMMANDS = {
    "list": "ganzoo.cli.catalog:list_cmd",
    "info": "ganzoo.cli.catalog:info_cmd",
    "plugins": "ganzoo.cli.catalog:plugins_cmd",
    "train": "ganzoo.cli.train:train_cmd",
    "data": "ganzoo.cli.data:data_group",
    "eval": "ganzoo.cli.eval:eval_cmd",
    "gallery": "ganzoo.cli.gallery:gallery_cmd",
    "sample": "ganzoo.cli.sample:sample_cmd",
    "push": "ganzoo.cli.hub:push_cmd",
    "export": "ganzoo.cli.hub:export_cmd",
    "new-plugin": "ganzoo.cli.scaffold:new_plugin_cmd",
    "doctor": "ganzoo.cli.doctor:doctor_cmd",
}
#: core commands that run networks: each gets a ``--threads N`` option (see :mod:`.threads`);
#: a plugin's command adds ``ganzoo.cli.threads.threads_option()`` itself (ganzoo stylize does)
THREADED = ("train", "sample", "eval")
#: exit status of a command the user stopped with Ctrl-C (128 + SIGINT, the shell's convention)
EXIT_INTERRUPTED = 130


class UserError(click.ClickException):
    """A mistake the user can fix: one line on stderr, exit status 2."""

    exit_code = 2


class GanzooGroup(click.Group):
    """Commands come from the registry (the core's and plugins', registered through
    ``registrar.add_command``), imported on first lookup; ganzoo errors become one-line click
    errors."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        from ..plugins import get_registry

        return sorted(set(get_registry().commands.names()) | set(self.commands))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        from ..plugins import get_registry

        if name in self.commands:
            return self.commands[name]
        table = get_registry().commands
        if name not in table:
            return None
        try:
            command = table.get(name)
        except GanzooError as exc:  # a plugin's command module that fails to import
            plugin = table.entry(name).plugin
            warnings.warn(f"command {name!r} of plugin {plugin!r} is unusable: {exc}", stacklevel=2)
            return None
        if not isinstance(command, click.Command):
            plugin = table.entry(name).plugin
            warnings.warn(
                f"command {name!r} of plugin {plugin!r} is {type(command).__name__}, not a "
                "click.Command",
                stacklevel=2,
            )
            return None
        if name in THREADED:
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
