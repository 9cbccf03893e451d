"""Evaluation reports as text (for the terminal) and JSON (for files and tables)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

ROWS = (  # key, label, format
    ("fd", None, "{:.4g}"),
    ("kid", "KID", None),  # scaled by a power of ten named in the label, see kid_exponent
    ("precision", "precision", "{:.3f}"),
    ("recall", "recall", "{:.3f}"),
    ("classes_covered", "classes covered", None),
    ("class_kl", "class KL (nats)", "{:.4f}"),
)


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
#: what the floor column is, said once under the table
FLOOR_NOTE = (
    "floor: held-out real images scored against the reference images exactly as the model's "
    "samples are, the best a generator can expect to reach (KID is an unbiased estimate, so "
    "near zero it can come out slightly negative)"
)


def kid_exponent(values: list[float]) -> int:
    """The power of ten, a multiple of 3, that brings the largest KID between 1 and 1000.

    KID's scale depends on the features (about 1e-2 on Inception, where papers print
    KID × 10³; thousands on the digits classifier's unnormalised features), so the table shows
    KID × 10^k, with k chosen here and named in the row label.
    """
    largest = max((abs(v) for v in values if math.isfinite(v)), default=0.0)
    if largest == 0:
        return 0
    return -3 * math.floor(math.log10(largest) / 3)


def kid_label(exponent: int) -> str:
    return "KID" if exponent == 0 else f"KID × 10{str(exponent).translate(_SUPERSCRIPT)}"


def _cell(scores: dict[str, Any] | None, key: str, fmt: str | None, scale: float = 1.0) -> str:
    if not scores or key not in scores or scores[key] is None:
        return "-"
    if key == "classes_covered":
        return f"{scores['classes_covered']}/{scores['num_classes']}"
    value = scores[key]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if key == "kid":
        text = _plain(value * scale)
        if "kid_std" in scores:
            text += f" ± {_plain(scores['kid_std'] * scale, 2)}"
        return text
    return fmt.format(value) if fmt else str(value)


def _plain(x: float, digits: int = 3) -> str:
    """A number without an exponent where it has one to spare: 53.1, -0.0255, 630."""
    if x == 0 or not math.isfinite(x):
        return str(x)
    if abs(x) >= 10**digits:
        return f"{x:.0f}"
    if abs(x) >= 1e-3:
        return f"{x:.{digits}g}"
    return f"{x:.{digits - 1}e}"


def describe_features(features: dict[str, Any]) -> str:
    """One line naming the extractor, its weights, input and (for classifiers) accuracy."""
    parts = [f"{features.get('dim')}-d"]
    if features.get("weights"):
        parts.append(str(features["weights"]))
    if features.get("input"):
        parts.append(f"input {features['input']}")
    if features.get("held_out_accuracy") is not None:
        parts.append(f"held-out accuracy {features['held_out_accuracy']:.1%}")
    return f"{features.get('name')} ({', '.join(parts)})"


def format_report(report: dict[str, Any]) -> str:
    """The report as aligned text: what was compared, under which protocol, and the scores."""
    p = report["protocol"]
    c, h, w = report["image_size"]
    lines = []
    model = report.get("model")
    if model:
        step = f" (step {model['step']})" if model.get("step") is not None else ""
        lines.append(f"model: {model.get('arch') or '?'} from {model.get('source')}{step}")
    lines.append(f"data: {report['data']}, images {c}×{h}×{w}")
    lines.append(f"features: {describe_features(report['features'])}")
    counts = f"reference: {p['n_reference']} real images (split seed {p['split_seed']})"
    if report.get("metrics"):
        counts += f"; model: {p['n_generated']} samples (latent seed {p['sample_seed']})"
    if report.get("floor"):
        counts += f"; floor: {p['n_held_out']} held-out real images"
    lines.append(counts)
    lines.append(
        f"k = {p['k']} for precision/recall; KID over {p['kid_subsets']} subsets of at most "
        f"{p['kid_subset_size']}"
    )
    columns = [("model", report.get("metrics")), ("floor", report.get("floor"))]
    columns = [(name, scores) for name, scores in columns if scores]
    table = [["metric", *[name for name, _ in columns]]]
    kids = [float(s["kid"]) for _, s in columns if s.get("kid") is not None]
    exponent = kid_exponent(kids)
    for key, label, fmt in ROWS:
        if not any(scores and key in scores for _, scores in columns):
            continue
        scale = 10.0**exponent if key == "kid" else 1.0
        label = kid_label(exponent) if key == "kid" else label or report["fd_label"]
        table.append([label, *[_cell(s, key, fmt, scale) for _, s in columns]])
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines.append("")
    for row in table:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    lines.append("")
    if report.get("floor"):
        lines.append(FLOOR_NOTE)
    if exponent and kids:
        lines.append(
            f"{kid_label(exponent)}: KID scaled by 10^{exponent} to read as a plain number "
            "(the JSON report holds the raw values)"
        )
    if report.get("fd_over_floor") is not None:
        lines.append(f"{report['fd_label']} is {report['fd_over_floor']:.2f}× the floor")
    if report.get("metrics") and report.get("floor") and p["n_generated"] != p["n_held_out"]:
        lines.append(
            f"note: the floor uses {p['n_held_out']} images, the model {p['n_generated']}: "
            "the Fréchet distance and recall depend on the sample count"
        )
    return "\n".join(lines)


def _finite(obj: Any) -> Any:
    """JSON has no infinity: non-finite floats become null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def write_json(report: dict[str, Any], path: str | Path) -> Path:
    """Write the report as JSON (non-finite values as null)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(_finite(report), indent=2) + "\n", encoding="utf-8")
    return out
