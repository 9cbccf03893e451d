"""The adversarial trainer: the loop around :func:`ganzoo.training.step.train_step`.

It owns what every GAN shares: optimisers with separate learning rates and betas for G and D,
the EMA of G, batches from :func:`ganzoo.data.feed.open_feed` (uint8 until on the device,
with their labels), fixed-latent sample grids,
atomic checkpoints with exact resume, losses read back only every ``log_every`` steps, a
progress bar, ``metrics.jsonl`` (and the trackers of ``--log``, :mod:`ganzoo.tracking`) and a
loss plot. Architectures differ only through the model's
documented extension points (``prepare_real``, ``final_image``, ``sample_latent``,
``generator_penalty``), never by name. :meth:`AdversarialTrainer.fit` sets the run up and
drives the steps; the records it keeps (statistics, metrics, checkpoints, sample grids) are
:class:`ganzoo.training.bookkeeping.RunBook`'s.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

import torch

from ..errors import GanzooError, Interrupted
from ..rundir import RunDir
from .augment import build_augmenter
from .bookkeeping import RunBook, due_at, progress_bar, write_loss_plot
from .checkpoint import ResumePoint, find_resume_point
from .distributed import World
from .ema import refresh_ema_statistics
from .graphs import (
    adopt_adam_flags,
    autocast_for,
    build_optimizers,
    capture_blocker,
    channels_last_on,
    compile_networks,
    make_runner,
)
from .health import HealthMonitor, say_through
from .options import TrainOptions
from .schedule import ModelSchedule, resume_step, sync_optimizer
from .step import StepConfig


class TrainingDiverged(GanzooError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


class TrainingInterrupted(Interrupted):
    """Ctrl-C: a checkpoint was written and the run can be resumed."""


class SmallDatasetWarning(UserWarning):
    """The dataset holds fewer images than one batch."""


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError):
        raise GanzooError(
            f"--device {name!r} is not a device: use cpu, cuda, cuda:N or auto"
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise GanzooError(f"--device {name}: CUDA is not available here; use --device cpu")
    return dev


class AdversarialTrainer:
    """Fits a :class:`ganzoo.models.GANModel` to data from :func:`ganzoo.data.open_dataset`
    (an ``ImageStore`` or ``ImageStream``) or an :class:`ganzoo.data.ImageSet`."""

    def fit(
        self,
        model: Any,
        data: Any,
        options: TrainOptions,
        run_dir: Path,
        *,
        resume: bool = False,
        world: World | None = None,
    ) -> dict[str, float]:
        from ..data.feed import dataset_size
        from ..plugins import get_registry
        from ..tracking import open_tracker

        world = world or World.single()
        run_dir = Path(run_dir)
        # under torchrun: join the process group (once) and take cuda:LOCAL_RANK or the CPU
        dev = world.start(options.device) if world.distributed else resolve_device(options.device)
        model.to(dev)
        if options.ema:
            model.enable_ema()
        loss = get_registry().losses.get(options.loss)
        gp_weight = options.gp_weight if options.gp_weight is not None else loss.gradient_penalty
        if channels_last_on(options, dev):
            model.to(memory_format=torch.channels_last)
        g_model, d_model = compile_networks(*world.wrap(model, options), options)
        cfg = StepConfig(
            loss,
            options.d_steps,
            float(gp_weight),
            options.r1_gamma,
            options.r1_every,
            options.g_reg_every,
            options.d_skip_below,
            autocast_for(options, dev),  # bf16 on CUDA unless amp=false
        )
        cfg.augment = build_augmenter(options, dev, options.batch_size)  # p moves per global batch
        # a model with a training schedule (progressive growing) takes the shape of the step
        # this process starts at before its parameters meet an optimiser (ganzoo.training.schedule)
        schedule = ModelSchedule(model, options, dataset_size(data), world)
        schedule.begin(resume_step(run_dir) if resume and schedule.active else 0)
        # capturable Adam only for a step that will be captured (an eager one keeps plain Adam)
        blocker = capture_blocker(
            model, options, dev, distributed=world.distributed, scheduled=schedule.active
        )
        captured = blocker is None
        opt_g, opt_d = build_optimizers(model, options, dev, captured)  # fused on CUDA (graphs.py)
        # One latent stream shared by every rank: each draws the global batch and keeps its
        # slice (world.shard), so N processes see exactly the batches one process would; the
        # real images are chosen the same way, from (seed, step) (ganzoo.data.feed).
        gen = torch.Generator(device=dev).manual_seed(options.seed * 1000)
        fixed_z = model.sample_latent(
            options.n_samples, generator=torch.Generator().manual_seed(options.seed + 1)
        ).to(dev)
        conditional, label_weights, fixed_labels = self._labels(model, data, options)
        world.local_batch(options.batch_size)  # fails early unless the ranks split it evenly

        start = 0
        if resume:
            point = self._restore(run_dir, model, {"g": opt_g, "d": opt_d}, gen)
            start = point.step
            world.restore_rng(point.path, options.seed, start)
            if cfg.augment is not None:
                cfg.augment.load_state(point.state)
            set_learning_rates(opt_g, opt_d, options)  # a rollback halves them
            adopt_adam_flags((opt_g, opt_d), options, dev, captured)  # this device's, not saved
        # metrics.jsonl and the trackers of --log (ganzoo.tracking): every record goes through it
        log = open_tracker(
            run_dir, options.loggers, resume_step=start if resume else None, enabled=world.is_main
        )
        from ..data.feed import eval_images, open_feed, summary
        from ..metrics.evaluate import training_evaluator  # None unless options.eval_every

        evaluate = None
        if world.is_main and options.eval_every:
            evaluate = training_evaluator(options, eval_images(data), dev)
        n_images = dataset_size(data)  # None for a stream
        if n_images is not None and n_images < options.batch_size and world.is_main:
            warnings.warn(
                f"the dataset has {n_images} images, fewer than one batch of "
                f"{options.batch_size}: every batch repeats them and the GAN can only memorise "
                "them; add images, or lower --batch-size to at most the dataset's size",
                SmallDatasetWarning,
                stacklevel=2,
            )
        feed = open_feed(data, options, world, dev, start)
        if world.is_main and options.progress:
            print(f"ganzoo: data: {summary(data, feed)}", file=sys.stderr, flush=True)
        bar = progress_bar(options, start, enabled=world.is_main)
        health = HealthMonitor(
            model,
            options,
            data,
            dev,
            log.write,
            say_through(bar, world.is_main and options.progress),
            run_dir,
        )
        cfg.observe = health.observe if health.enabled else None
        # the step (G, D, EMA, health statistics), replayed from CUDA graphs where it can be
        self.step_runner = run_step = make_runner(
            model, opt_g, opt_d, cfg, options, dev, g_model=g_model, d_model=d_model,
            health=health, distributed=world.distributed, scheduled=schedule.active,
            say=say_through(bar, world.is_main and options.progress),
        )  # fmt: skip
        if resume:
            health.load_state(point.state)
        if resume and not world.distributed:
            health.preload(RunDir(run_dir).metrics.read())
        for note in getattr(self, "health_notes", ()):  # what a rollback did before this fit
            health.note(note)
        book = RunBook(
            run_dir, model, {"g": opt_g, "d": opt_d}, cfg, options, world, gen, log, health,
            bar, (fixed_z, fixed_labels, fixed_grid_row(model, options.n_samples)), start,
        )  # fmt: skip
        final: dict[str, float] = {}
        step = start

        # under torchrun a checkpoint needs every rank at the same step: Ctrl-C stops at once
        stop = GracefulInterrupt(graceful=not world.distributed)
        try:
            stop.__enter__()
            for step in range(start, options.steps):
                if schedule.before_step(step) and step > start:  # a new phase: grid, checkpoint
                    book.sample(step)
                    if book.last_good != step:
                        book.checkpoint(step)
                if schedule.active:  # parameters added by the schedule join the optimisers
                    sync_optimizer(opt_g, list(model.generator.parameters()))
                    sync_optimizer(opt_d, list(model.discriminator.parameters()))
                batch = feed.batch(step)  # images, and labels: class indices
                real = batch.images
                z = world.shard(model.sample_latent(options.batch_size, generator=gen, device=dev))
                real_y = fake_y = None
                if conditional:  # the real batch's labels, then labels drawn for the fakes
                    real_y = batch.labels.to(dev, torch.long)
                    fake_y = world.shard(
                        model.sample_labels(
                            options.batch_size, generator=gen, device=dev, weights=label_weights
                        )
                    )
                real, real_y, z, fake_y = schedule.trim(real, real_y, z, fake_y)
                stats = run_step(step, real, z, real_y, fake_y)  # with the EMA and health's
                stats.update(schedule.metrics(dev))
                book.add(stats, len(z) * world.world_size)  # G's batch: the phase's, all ranks
                done = step + 1
                due = due_at(options, done)
                refresh_ema_statistics(model, options, done, stop.requested, due=due)
                if done % options.log_every == 0:
                    final = book.flush(done) or final
                if due.sample:
                    book.sample(done)
                if evaluate is not None and due.evaluate:
                    book.evaluate(evaluate, done)
                if due.checkpoint:
                    book.checkpoint(done)
                if stop.requested:
                    raise KeyboardInterrupt
            step = options.steps
            final = book.flush(step) or final
            if book.last_good != step:
                book.checkpoint(step)
            if not due_at(options, step).sample:
                book.sample(step)
        except KeyboardInterrupt:
            # A first Ctrl-C lets the step finish; a second one lands here mid-step, when the
            # networks may be half updated: then the last checkpoint is the one to resume from.
            done = step + 1 if stop.requested and not stop.forced else None
            if done is not None and done > book.last_good:
                book.checkpoint(done)
            raise TrainingInterrupted(
                f"interrupted at step {done or book.last_good}; checkpoint in {run_dir}: continue "
                f"with ganzoo train --resume {run_dir} --steps {options.steps}"
            ) from None
        finally:
            stop.__exit__()
            feed.close()
            bar.close()
            log.close()
            if world.is_main:
                write_loss_plot(run_dir)
        return final

    @staticmethod
    def _labels(
        model: Any, data: Any, options: TrainOptions
    ) -> tuple[bool, torch.Tensor | None, torch.Tensor | None]:
        """For a conditional model: True, the class weights fakes are drawn with (None:
        uniform) and the fixed sample grid's labels (one class per row). (False, None, None)
        for an unconditional model, whose steps stay exactly as before."""
        if not getattr(model, "conditional", False):
            return False, None, None
        if getattr(data, "labels", None) is None:  # a labelled stream, or an error
            from ..data.labels import stream_label_weights

            weights = stream_label_weights(model, data, options.label_dist)
        else:
            labels = torch.as_tensor(data.labels).long()
            if int(labels.min()) < 0 or int(labels.max()) >= model.num_classes:
                raise GanzooError(
                    f"the dataset's labels span 0-{int(labels.max())} but the model has "
                    f"{model.num_classes} classes"
                )
            weights = None
            if options.label_dist == "dataset":
                weights = torch.bincount(labels, minlength=model.num_classes).float()
        n = options.n_samples
        fixed = torch.arange(n) // fixed_grid_row(model, n) % model.num_classes
        return True, weights, fixed

    def _restore(
        self, run_dir: Path, model: Any, optimizers: dict, gen: torch.Generator
    ) -> ResumePoint:
        """Load the newest intact checkpoint (older ones when the newest is broken, with a
        warning naming it) into the model, the optimisers and the random generators."""
        from ..serialization import load_networks, read_config
        from .checkpoint import unflatten_optimizer

        point = find_resume_point(run_dir)
        ckpt, plain, tensors = point.path, point.state, point.tensors
        load_networks(model, ckpt, read_config(ckpt))

        for name, opt in optimizers.items():
            state = unflatten_optimizer(f"optim.{name}", tensors, plain["optimizers"][name])
            opt.load_state_dict(state)
        gen.set_state(tensors["rng.gen"].to(torch.uint8).cpu())
        torch.set_rng_state(tensors["rng.torch"].to(torch.uint8).cpu())
        if "rng.cuda" in tensors and torch.cuda.is_available():
            torch.cuda.set_rng_state(tensors["rng.cuda"].to(torch.uint8).cpu())
        return point


def set_learning_rates(opt_g: Any, opt_d: Any, options: TrainOptions) -> None:
    """Give restored optimisers the run's learning rates (equal to the checkpoint's, except
    after a rollback, which halves them: ganzoo.training.rollback)."""
    for opt, lr in ((opt_g, options.lr_g), (opt_d, options.lr_d)):
        for group in opt.param_groups:
            group["lr"] = lr


def fixed_grid_row(model: Any, n: int) -> int | None:
    """Images per row of the training sample grid: a conditional model's grid has one class
    per row (n // num_classes columns, at least 1); None (square) otherwise."""
    if not getattr(model, "conditional", False):
        return None
    return max(1, n // model.num_classes)


class GracefulInterrupt:
    """Turn the first SIGINT into a request honoured at the end of the current step, so the
    checkpoint written on Ctrl-C is exact; a second SIGINT interrupts at once."""

    def __init__(self, graceful: bool = True) -> None:
        self.graceful = graceful
        self.requested = False
        self.forced = False
        self._previous: Any = None

    def _handler(self, signum: int, frame: Any) -> None:
        if self.requested or not self.graceful:
            self.forced = True
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> GracefulInterrupt:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc: Any) -> None:
        import signal

        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


def latest_or_none(run_dir: Path) -> Path | None:
    try:
        return RunDir(run_dir).latest()
    except GanzooError:
        return None
