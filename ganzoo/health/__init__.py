"""Training health: the lesson's failure modes detected, explained and treated.

:mod:`.detectors` holds the failure modes as pure functions of the statistics a run logs;
:mod:`.doctor` replays them over a run for ``ganzoo doctor`` (text, JSON, :mod:`.plot`'s PNG);
:mod:`.remedies` maps each to the ganzoo options that treat it. The live side (statistics
gathered during training, rollback, augmentation) is in ``ganzoo.training.health``,
``ganzoo.training.rollback`` and ``ganzoo.training.augment``. Nothing here imports torch.
"""

from .detectors import DIAGNOSES, Diagnosis, Finding, diagnose
from .doctor import Episode, Report, examine

__all__ = ["DIAGNOSES", "Diagnosis", "Episode", "Finding", "Report", "diagnose", "examine"]
