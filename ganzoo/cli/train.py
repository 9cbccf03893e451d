"""``ganzoo train``: fit a registered GAN and leave a run directory behind."""

from __future__ import annotations

from pathlib import Path

import click


class RegisteredNamesOption(click.Option):
    """An option whose help lists the names registered in one registry table at the time
    ``--help`` is shown (plugins add losses and datasets), not a list fixed in the code."""

    def __init__(self, *args, table: str, template: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.table, self.template = table, template

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        from ..plugins import get_registry

        names = getattr(get_registry(), self.table).names()
        self.help = self.template.format(names=", ".join(names) or "none registered")
        return super().get_help_record(ctx)


@click.command("train")
@click.argument("arch", required=False)
@click.option(
    "--data",
    cls=RegisteredNamesOption,
    table="datasets",
    template="A registered dataset ({names}), a folder of images, .parquet/.arrow files or "
    "hf://datasets/ORG/NAME[@REV][:SPLIT] (ganzoo data info SOURCE).",
)
@click.option("--steps", type=int, help="Total steps; with --resume, the new total.")
@click.option("--batch-size", type=int, help="Images per step (global under torchrun).")
@click.option("--lr-g", type=float, help="Generator learning rate.")
@click.option("--lr-d", type=float, help="Discriminator learning rate.")
@click.option(
    "--loss",
    cls=RegisteredNamesOption,
    table="losses",
    template="Adversarial loss: {names} (`ganzoo plugins --all` shows who registered each).",
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override any model or training option (repeatable).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="TOML file of options (top level, or [model] and [train] tables).",
)
@click.option("--preset", help="A named preset of the architecture (ganzoo info ARCH).")
@click.option(
    "--out", type=click.Path(file_okay=False), help="Run directory (default runs/ARCH-TIME)."
)
@click.option("--seed", type=int, help="Seed of weights, latents and batches.")
@click.option("--device", help="cpu, cuda, cuda:N or auto.")
@click.option("--sample-every", type=int, help="Write a sample grid every N steps.")
@click.option("--checkpoint-every", type=int, help="Write a checkpoint every N steps.")
@click.option(
    "--eval-every",
    type=int,
    help="Evaluate (Fréchet distance, KID, coverage) every N steps into metrics.jsonl.",
)
@click.option(
    "--log",
    "log",
    multiple=True,
    cls=RegisteredNamesOption,
    table="loggers",
    template="Also log to these trackers ({names}); repeatable or a comma list. metrics.jsonl "
    "(json) is always written.",
)
@click.option(
    "--resume",
    type=click.Path(file_okay=False),
    help="Continue the run in this directory from its latest checkpoint.",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Start over in an --out folder whose run stopped before its first checkpoint.",
)
@click.option(
    "--on-diverge",
    type=click.Choice(["stop", "rollback"]),
    help="On NaN/inf: stop (default), or go back to the last good checkpoint with both "
    "learning rates halved and continue (--set rollback_tries=N, default 3).",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train_cmd(
    arch,
    data,
    steps,
    batch_size,
    lr_g,
    lr_d,
    loss,
    sets,
    config_file,
    preset,
    out,
    seed,
    device,
    sample_every,
    checkpoint_every,
    eval_every,
    log,
    resume,
    overwrite,
    on_diverge,
    quiet,
) -> None:
    """Train ARCH (e.g. dcgan) and write samples, checkpoints and metrics.

    With no --data the architecture's default dataset is used (digits for the GANs): the
    1,797 handwritten digits that ship with scikit-learn, so this works offline.

    On CUDA the fast path is on: bf16 autocast, channels_last, fused Adam, the dataset on
    the GPU as uint8 when it fits, and the whole step replayed from CUDA graphs (a model that
    cannot be captured trains eagerly, with one line saying why). Turn a part off with
    --set amp=false, channels_last=false, fused_adam=false, data_on_device=false or
    cuda_graphs=false; --set compile=true opts into torch.compile.
    """
    from ..config import load_toml, parse_assignments
    from ..rundir import RunDir
    from ..training import run
    from ..training.distributed import World

    flags = {
        "steps": steps,
        "batch_size": batch_size,
        "lr_g": lr_g,
        "lr_d": lr_d,
        "loss": loss,
        "seed": seed,
        "device": device,
        "sample_every": sample_every,
        "checkpoint_every": checkpoint_every,
        "eval_every": eval_every,
        "on_diverge": on_diverge,
    }
    if quiet:
        flags["progress"] = False
    if log:
        from ..tracking import parse_logger_names

        flags["loggers"] = parse_logger_names(log)
    layers = [load_toml(config_file)] if config_file else []
    layers += [parse_assignments(sets), {k: v for k, v in flags.items() if v is not None}]
    world = World.from_env()  # a torchrun rank, or a single process
    if resume:
        if overwrite:
            raise click.UsageError("--overwrite starts a new run; it does not go with --resume")
        if arch or data or preset or config_file:
            raise click.UsageError(
                "--resume takes its architecture, data and options from "
                "the run; pass only --steps and logging options"
            )
        if not Path(resume).expanduser().is_dir():
            from ..hub.local import no_such_source

            raise no_such_source(resume)
        run.check_layers([run.TrainOptions], layers)  # a bad value even when overridden
        overrides = {k: v for layer in layers for k, v in layer.items()}
        plan = run.plan_resume(resume, overrides)
    else:
        if not arch:
            raise click.UsageError("name an architecture (ganzoo list) or --resume RUN_DIR")
        plan = run.plan_new_run(
            arch, data=data, preset=preset, layers=layers, out=out, overwrite=overwrite
        )
    # every rank has validated the plan before any rank writes: start() ends in a barrier
    world.start(plan.options.device)
    if world.is_main:
        where = f" on {world.world_size} processes" if world.distributed else ""
        click.echo(
            f"{'resuming' if plan.resume else 'training'} {plan.arch} on {plan.data} "
            f"for {plan.options.steps} steps{where} -> {plan.run_dir}",
            err=True,
        )
    try:
        final = run.execute(plan, world=world)
    except Exception as exc:
        lost = world.explain_failure(exc, Path(plan.run_dir))
        if lost is not None:
            raise lost from None
        raise
    world.close()
    if world.is_main:
        grid = RunDir(plan.run_dir).samples()
        summary = ", ".join(
            f"{k}={v:.3g}" for k, v in final.items() if k in ("d_loss", "g_loss", "img_per_s")
        )
        click.echo(f"done: {summary}", err=True)
        if grid:
            click.echo(f"samples: {grid[-1]}")
        click.echo(f"run: {plan.run_dir}")
