"""The classes of a streamed dataset, for conditional training.

A prepared dataset (``ImageStore``, ``ImageSet``) holds every label, so its classes are counted;
a stream (``ImageStream``) holds none up front: its classes are the names of its label column's
``ClassLabel`` feature, and its labels arrive with each batch (``ganzoo.data.feed``).
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError


def streamed_classes(data: Any) -> tuple[str, ...] | None:
    """The class names of a labelled stream (from its ``ClassLabel`` column), else None."""
    columns = getattr(data, "columns", None)
    if getattr(data, "labels", None) is not None or columns is None or not columns.label:
        return None
    return tuple(getattr(data, "classes", None) or ()) or None


def stream_class_names(data: Any, where: str) -> tuple[str, ...]:
    """The classes of a dataset that holds no labels up front: a labelled stream's class names;
    a one-line error for anything else (an unlabelled dataset, or a stream whose label column
    has no names to count classes by)."""
    names = streamed_classes(data)
    if names is not None:
        return names
    if getattr(getattr(data, "columns", None), "label", None):
        raise ConfigError(
            f"{where} is streamed and its label column has no class names (a ClassLabel "
            "feature): prepare it first (drop data_streaming=true) so its classes can be counted"
        )
    raise ConfigError(
        f"--set conditional=true needs class labels, and {where} has none: use a labelled "
        "dataset (digits) or train without conditional=true"
    )


def stream_label_weights(model: Any, data: Any, label_dist: str) -> Any:
    """For conditional training on a stream: check its classes fit ``model`` and that fake
    labels can be drawn as asked (uniformly: a stream's class frequencies are unknown up
    front). Returns the weights fakes are drawn with (None: uniform); an error otherwise."""
    from ..errors import GanzooError

    names = streamed_classes(data)
    if names is None:
        raise GanzooError(
            f"{model.arch or 'this model'} is conditional but the dataset "
            f"{getattr(data, 'name', '') or ''} has no class labels: train it unconditionally "
            "(--set conditional=false) or use a labelled dataset"
        )
    if len(names) > model.num_classes:
        raise GanzooError(
            f"the streamed dataset has {len(names)} classes but the model has {model.num_classes}"
        )
    if label_dist == "dataset":
        raise GanzooError(
            "label_dist=dataset needs the class frequencies, which a stream does not know up "
            "front: use label_dist=uniform, or prepare the dataset (drop data_streaming=true)"
        )
    return None
