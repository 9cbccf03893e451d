"""``ganzoo doctor RUN``: what went wrong in a training run, when, and what to try."""

from __future__ import annotations

import json

import click


@click.command("doctor")
@click.argument("run")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (for tools).")
@click.option(
    "--plot",
    default=None,
    metavar="PATH",
    help="Where to draw the curves with the diagnoses marked (default RUN/health.png).",
)
@click.option("--no-plot", is_flag=True, help="Do not draw the PNG.")
def doctor_cmd(run: str, as_json: bool, plot: str | None, no_plot: bool) -> None:
    """Diagnose the training run RUN: D dominance, vanished G gradients, mode collapse,
    oscillation and divergence, each with the steps it held and the ganzoo options to try.

    Exit status: 0 when the run is healthy, 1 when something was diagnosed, 2 when RUN is
    not a run with a metrics log.
    """
    from ..health.doctor import PLOT_NAME, examine, format_report
    from ..rundir import RunDir

    report = examine(run, plot=None if no_plot else (plot or PLOT_NAME))
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        train = (RunDir(run).read_config() or {}).get("train")
        click.echo(format_report(report, train if isinstance(train, dict) else None))
    click.get_current_context().exit(0 if report.healthy else 1)
