"""Phone-class metrics of the acoustic model's auxiliary output (pure numpy, 100 Hz frames).

Weights trained with the phone-class head (``phone_logits``, classes ``model_server.phonetics.
PHONE_CLASSES``) are scored frame by frame against labels from the clips' phone timings
(:func:`model_server.phonetics.phone_class_frames`, the same timings that make the AU targets):

* a confusion matrix [P, P] of frame counts, rows = true class, columns = the argmax class;
* accuracy (share of frames right), mean recall (the mean of the per-class recalls: silence frames
  dominate, so plain accuracy flatters a model that only finds pauses), and the recall of each class.
"""

from __future__ import annotations

import numpy as np

from model_server.phonetics import PHONE_CLASSES

#: Short column names of the classes, in ``PHONE_CLASSES`` order.
SHORT_NAMES: tuple[str, ...] = ("sil", "bilab", "labdent", "dentalv", "velar", "round_v", "open_v",
                                "other_v")


def confusion(phone_logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """[P, P] int64 frame counts (row = true class, column = argmax of ``phone_logits``).

    Args:
        phone_logits: [T, P] scores (logits or probabilities). labels: [T] true class indices.

    Raises:
        ValueError: if the lengths differ.
    """
    n = len(PHONE_CLASSES)
    if len(phone_logits) != len(labels):
        raise ValueError(f"{len(phone_logits)} frames of logits for {len(labels)} labels")
    pred = np.argmax(phone_logits, axis=1) if len(labels) else np.zeros(0, np.int64)
    return np.bincount(np.asarray(labels, np.int64) * n + pred, minlength=n * n).reshape(n, n)


def summary(conf: np.ndarray) -> dict[str, float]:
    """``frames``, ``accuracy``, ``mean_recall`` and ``recall_<class>`` (NaN for an absent class)."""
    totals = conf.sum(axis=1)  # [P] true frames per class
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.diag(conf) / totals
    frames = int(conf.sum())
    row: dict[str, float] = {"frames": float(frames),
                             "accuracy": float(np.trace(conf) / frames) if frames else float("nan"),
                             "mean_recall": float(np.nanmean(recall)) if (totals > 0).any() else float("nan")}
    row.update({f"recall_{c}": float(r) for c, r in zip(PHONE_CLASSES, recall, strict=True)})
    return row


def table_lines(rows: dict[str, np.ndarray]) -> list[str]:
    """Lines of a table: one row per group (its confusion matrix), columns frames, accuracy, mean recall
    and the recall of each class."""
    head = f"{'group':<26}{'frames':>9}{'acc':>7}{'mrec':>7}" + "".join(f"{s:>9}" for s in SHORT_NAMES)
    lines = [head]
    for name, conf in rows.items():
        r = summary(conf)
        cells = "".join(f"{r[f'recall_{c}']:>9.3f}" for c in PHONE_CLASSES)
        lines.append(f"{name:<26}{r['frames']:>9.0f}{r['accuracy']:>7.3f}{r['mean_recall']:>7.3f}{cells}")
    return lines


def confusion_lines(conf: np.ndarray) -> list[str]:
    """Lines of the row-normalised confusion matrix in percent (rows true, columns predicted)."""
    lines = ["true / predicted".ljust(18) + "".join(f"{s:>9}" for s in SHORT_NAMES)]
    totals = np.maximum(conf.sum(axis=1, keepdims=True), 1)
    for name, row in zip(SHORT_NAMES, 100.0 * conf / totals, strict=True):
        lines.append(f"{name:<18}" + "".join(f"{v:>9.1f}" for v in row))
    return lines


def print_report(title: str, rows: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Print the per-group table and the ``all`` group's confusion matrix (a CLI report, hence print);
    returns the summaries for the JSON report. Prints nothing for no rows."""
    if not rows:
        return {}
    print(f"\n## phone classes, {title}: frame accuracy, mean recall, recall per class")
    print("\n".join(table_lines(rows)))
    if "all" in rows:
        print(f"\n## phone-class confusion, {title}, all (% of each true class's frames)")
        print("\n".join(confusion_lines(rows["all"])))
    return {k: summary(v) for k, v in rows.items()}
