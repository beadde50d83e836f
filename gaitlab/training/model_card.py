"""The model card: built from a training run, and rendered as Markdown for people.

`build_card(data, config, result, train_idx, val_idx, distillation, command)` makes the card
of a trained student, a JSON-ready dict (architecture, clip spec, training data and split,
metrics, history, status, cost) that `weights.save_weights` stores beside the weights.
`render_markdown(card)` turns a card into Markdown: `weights/MODEL_CARD.md` (regenerate with
`python -m gaitlab card`) and the About page use it, so both always say the same thing.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gaitlab import text
from gaitlab.constants import (CLASSES, CLIP_FRAMES, DISPLAY_NAMES, EMBED_DIM, FRAME_SIZE, IMAGENET_MEAN,
                               IMAGENET_STD, NOTICE)
from gaitlab.metrics import RANDOM_DROP_FLOOR, describe_ratio, walks_per_bin
from gaitlab.model import count_flops, count_parameters
from gaitlab.pipeline.pose_frames import BODY_FRACTION, LINE_WIDTH, VIEW
from gaitlab.training.config import TrainConfig, TrainResult
from gaitlab.training.clip_bank import SHIFT as BANK_SHIFT
from gaitlab.training.dataset import ASPECT_JITTER, DATASET_NAME, N_FOLDS, SPAN_JITTER, GaitData
from gaitlab.weights import DEFAULT_WEIGHTS, read_card

KOA_PD_NM_CITATION = ('N. Kour, S. Gupta, S. Arora, "A vision-based gait dataset for knee osteoarthritis and '
                      "Parkinson's disease analysis with severity levels\" (2022), CC BY 4.0")

INTENDED_USE = (
    "Exploring and teaching how a video model reads gait: analysing example walks, showing which "
    "frames and body regions drive an answer, how a clinical note shifts it, and how cohorts "
    "compare. Research and education only."
)
NOT_FOR = (
    "Diagnosis, screening decisions, triage or monitoring of any person. The model has seen 216 "
    "walks of 92 people, mostly filmed from the side on one walkway, as pose frames drawn from "
    "MediaPipe landmarks; its answers on other cameras, people and settings are unknown. "
    "Severity levels are particularly unreliable."
)

# Facts about the training data that limit any model trained on it.
DATA_LIMITS = (
    "PD_Severe has a single subject (2 walks): under a subject-grouped split it is either trained "
    "on or tested on, never both, so its recall is 0 or undefined; macro averages over nine "
    "classes are pulled down by it.",
    "Camera view differs by group: the disabled-gait walks are filmed head-on, the KOA/PD/normal "
    "walks from the side. A model can separate the groups by view alone; a side-on video of a "
    "disabled walker is outside what it has seen.",
    "Sequence length and frame spacing differ by group (median frames: normal 141, KOA 453, PD 554, "
    "disabled 84). Clips span one estimated gait cycle, so neither length nor frame rate is "
    "visible to the model; progression within a cycle (stride) is kept by one crop per clip.",
    "Severity levels within KOA and PD are separated by few subjects per class (1–12) and are the "
    "least reliable answers.",
    "Pose frames show only what MediaPipe Pose found: a mislabelled side (left/right swap the "
    "cleaning missed) or a missed limb changes the input; clothing, walking aids and the scene "
    "are invisible to the student.",
)


# --- Building the card of a training run -----------------------------------------------------


def _split_counts(data: GaitData, idx: np.ndarray) -> dict[str, Any]:
    sub = data.meta.loc[idx]
    per_class = {c: [int((sub["label"] == c).sum()), int(sub.loc[sub["label"] == c, "subject_id"].nunique())]
                 for c in CLASSES}
    return {"videos": int(len(sub)), "subjects": int(sub["subject_id"].nunique()), "videos_subjects_per_class": per_class}


def _status(fold: int, distilled: bool) -> str:
    kind = ("distilled student: trained on pose frames drawn from keypoints with soft targets from the keypoint teacher"
            if distilled else "student trained on pose frames drawn from keypoints and the labels alone")
    if fold < 0:
        return (f"{kind}, on all usable walks, after the {N_FOLDS}-fold subject-grouped protocol chose the recipe; its "
                "figures are that protocol's out-of-fold figures for the same recipe. Not a clinical tool.")
    return f"{kind}, with subject-grouped fold {fold} held out; an experiment of the protocol, not a clinical tool."


def build_card(data: GaitData, config: TrainConfig, result: TrainResult, train_idx: np.ndarray, val_idx: np.ndarray,
               distillation: dict[str, Any] | None = None, command: str = "") -> dict[str, Any]:
    """The model card of a trained student (save_weights adds classes, tensors and SHA-256).

    `train_idx` / `val_idx`: the rows of `data` trained on and held out (may be empty).
    `distillation`: the record of `train.train_distillation_teacher` when the student was
    distilled (None: trained on the labels alone; `config.distill_weight` / `temperature`
    then unused)."""
    fold = config.val_fold
    split = (f"StratifiedGroupKFold(n_splits={config.n_folds}, shuffle=True, random_state={config.seed}) over "
             f"subject_id, stratified by label; fold {fold} of {config.n_folds} held out (no subject on both sides)"
             if fold >= 0 else "no hold-out: trained on all usable videos (see the cross-validation protocol)")
    return {
        "architecture": config.architecture,
        "architecture_kwargs": getattr(result.model, "settings", config.architecture_kwargs),
        "view": VIEW,
        "view_parameters": {"body_fraction": BODY_FRACTION, "line_width": LINE_WIDTH, "channels":
                            ["left arm and leg", "right arm and leg", "trunk and head"],
                            "framing": "one crop per clip at one body-height scale, centred on the clip's mean mid-hip",
                            "direction": "right-to-left walks mirrored, side channels swapped",
                            "cleaning": "keypoints.clean_sequence: short gaps filled, side swaps fixed, [1,2,1] smoothing"},
        "clip": {"frames": CLIP_FRAMES, "size": FRAME_SIZE, "channels": 3,
            "normalisation": {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)},
            "sampling": (
                "inference: clips of 8 frames evenly spaced over one estimated gait cycle "
                "(autocorrelation of ankle distance), up to 12 clips tiling the walk (clips.plan_clips); "
                "video probabilities = mean of clip softmaxes. training: random start, span = cycle x "
                f"U{SPAN_JITTER} (frame-rate jitter), aspect x U{ASPECT_JITTER}, pose-frame augmentation (PoseStyle.random: scale, rotation, shift, landmark jitter, dropped bones, line width), "
                f"{config.bank_clips} such clips per walk rendered once (training.clip_bank, pooled as the network pools), "
                f"drawn {config.clips_per_video} per walk per epoch with a random shift of up to {BANK_SHIFT} pooled pixels"
                + (f", mixup Beta({config.mixup:g}, {config.mixup:g})" if config.mixup > 0 else "")
            ),
        },
        "embedder": {"name": text.NAME, "dim": EMBED_DIM},
        "training_data": {
            "dataset": DATASET_NAME, "usable_videos": int(len(data.meta)),
            "subjects": int(data.meta["subject_id"].nunique()),
            "dropped_videos": data.dropped.to_dict(orient="records"), "train": _split_counts(data, train_idx),
            "sources": [KOA_PD_NM_CITATION, "disabled-gait set (Disabled_Assistive, Disabled_NonAssistive)"],
            "notes": "synthetic clinical notes (gaitlab.training.notes), never naming the diagnosis; "
                     f"dropped for {config.note_drop_rate:.0%} of training samples",
        },
        "protocol": {
            "split": split, "val_fold": fold,
            "validation": _split_counts(data, val_idx) if len(val_idx) else None,
            "caveat": "PD_Severe has one subject: it is either trained on or tested on, never both.",
        },
        "metrics": result.metrics,
        "training": {"config": asdict(config), "history": result.history},
        "distillation": distillation,
        "status": _status(fold, distillation is not None),
        "command": command,
        "wall_time_s": round(result.wall_time_s, 1),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "parameters": count_parameters(result.model),
        "flops": count_flops(result.model),
    }


def _wall_time(card: dict[str, Any]) -> str:
    """The training wall time of a card, the distillation teacher's share named when it has one."""
    teacher = (card.get("distillation") or {}).get("teacher", {}).get("wall_time_s")
    total = card.get("wall_time_s")
    if teacher is None or total is None:
        return f"{total} s"
    return f"{total + teacher:.0f} s (keypoint teacher {teacher:.0f} s, then the student {total:.0f} s)"


def teacher_figures(protocol: dict[str, Any] | None) -> dict[str, Any]:
    """The `metrics` and `metrics_source` of a teacher card: the protocol's pooled figures of
    recipe `teacher` (empty when `protocol`, weights/protocol.json, holds none)."""
    res = (protocol or {}).get("recipes", {}).get("teacher")
    return {"metrics": {"keypoints": res["pooled"]} if res else {},
            "metrics_source": "pooled out-of-fold predictions of the subject-grouped protocol, recipe 'teacher'" if res else None}


def teacher_card(teacher: Any, data: GaitData, train_idx: np.ndarray, protocol: dict[str, Any] | None,
                 command: str = "") -> dict[str, Any]:
    """The card of a keypoint teacher trained on rows `train_idx` (the second opinion that ships
    beside the student); `protocol` (weights/protocol.json) gives its cross-validated figures."""
    cfg = asdict(teacher.config)
    kwargs = {"in_features": int(teacher.net.norm.num_features), "channels": cfg["channels"],
              "dilations": list(cfg["dilations"]), "dropout": cfg["dropout"]}
    members = len(getattr(teacher.net, "members", []))
    return {
        "architecture": "keypoint_teacher_ensemble" if members else "keypoint_teacher",
        "architecture_kwargs": {"members": members, **kwargs} if members else kwargs,
        "teacher_config": {**cfg, "dilations": list(cfg["dilations"]), "span_jitter": list(cfg["span_jitter"])},
        "input": "cleaned full-rate keypoint sequence; windows of two estimated gait cycles, 16 steps per cycle"
                 + (f"; the mean of {members} nets fitted from consecutive seeds" if members else "")
                 + ("; every window also read with left and right swapped" if cfg.get("mirror_tta") else ""),
        "training_data": {"dataset": DATASET_NAME, "train": _split_counts(data, train_idx),
                          "sources": [KOA_PD_NM_CITATION, "disabled-gait set (Disabled_Assistive, Disabled_NonAssistive)"]},
        **teacher_figures(protocol),
        "history": teacher.history,
        "command": command,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "parameters": count_parameters(teacher.net),
    }


# --- Rendering a card ------------------------------------------------------------------------


def _pct(x: Any) -> str:
    return "–" if x is None else f"{100 * float(x):.1f}%"


def metrics_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """One row per evaluated variant (e.g. video-only, fused) with the headline figures."""
    rows = []
    for name, m in metrics.items():
        if isinstance(m, dict) and "accuracy" in m:
            rows.append({"variant": name, "videos": m.get("n"), "accuracy": m["accuracy"],
                         "balanced accuracy": m.get("balanced_accuracy"), "macro-F1": m.get("macro_f1"), "ECE": m.get("ece")})
    return pd.DataFrame(rows)


def confusion_frame(m: dict[str, Any]) -> pd.DataFrame:
    """The confusion matrix of a metrics entry as a labelled frame (rows true, columns predicted)."""
    return pd.DataFrame(m["confusion_matrix"], index=list(CLASSES), columns=list(CLASSES))


def headline_metrics(card: dict[str, Any]) -> dict[str, Any] | None:
    """The metrics entry the card leads with (cross-validated if present, else the hold-out)."""
    metrics = card.get("metrics") or {}
    for key in ("video_only", "student_video_only", "fused"):
        if key in metrics and "confusion_matrix" in metrics[key]:
            return metrics[key]
    return next((m for m in metrics.values() if isinstance(m, dict) and "confusion_matrix" in m), None)


def cross_validation_frame(cv: dict[str, Any]) -> pd.DataFrame:
    """The card's cross-validation rows as a table: mean ± spread (std across folds) per figure."""
    rows = []
    for r in cv.get("rows", []):
        rows.append({"recipe": r["recipe"], "scored": r["variant"],
                     **{name: f"{r[key]:.3f} ± {r[key + '_std']:.3f}" for key, name in _CV_COLUMNS}})
    return pd.DataFrame(rows)


_CV_COLUMNS = (("accuracy", "accuracy"), ("balanced_accuracy", "balanced accuracy"), ("macro_f1", "macro-F1"), ("ece", "ECE"))


def cv_fold_count(cv: dict[str, Any]) -> int:
    """How many held-out folds a card's cross-validation section reports (`N_FOLDS` if it does not say)."""
    return len(cv.get("fold_sizes") or []) or N_FOLDS


def cross_validation_lines(cv: dict[str, Any]) -> list[str]:
    sizes = ", ".join(f"{f['videos']}/{f['subjects']}" for f in cv.get("fold_sizes", []))
    lines = ["", "## Cross-validated figures (the protocol)",
             f"{cv.get('split')}; {cv.get('videos')} walks of {cv.get('subjects')} subjects; walks/subjects per "
             f"held-out fold: {sizes}. Each figure is the mean ± standard deviation over the {cv_fold_count(cv)} held-out folds. "
             f"These weights use recipe `{cv.get('recipe')}`, trained on all the data after the protocol chose it. "
             "Students are calibrated with cross-fitted temperatures unless marked.", ""]
    frame = cross_validation_frame(cv)
    if len(frame):
        lines += ["| " + " | ".join(frame.columns) + " |", "|---" * len(frame.columns) + "|"]
        lines += ["| " + " | ".join(str(v) for v in r) + " |" for r in frame.itertuples(index=False)]
    recall = cv.get("video_only_recall") or {}
    if recall:
        lines += ["", f"Per-class recall of `{cv.get('recipe')}`, video only (mean ± std over the folds holding the class):", "",
                  "| class | recall | folds |", "|---|---|---|"]
        lines += [f"| {DISPLAY_NAMES[c]} | " + (f"{r['mean']:.2f} ± {r['std']:.2f} | {r['folds']}" if r else "– | 0") + " |"
                  for c, r in recall.items()]
    lines += calibration_lines(cv)
    if cv.get("command"):
        lines += ["", f"Command: `{cv['command']}`"]
    return lines


_BOOTSTRAP_NAMES = {"accuracy": "accuracy", "macro_f1": "macro-F1", "four_group_accuracy": "4-group accuracy",
                    "nll": "NLL", "brier": "Brier score", "ece": "ECE (10 equal-count bins)"}


def calibration_notes(cv: dict[str, Any]) -> list[str]:
    """How to read the headline's calibration (`cv`: a card's `cross_validation`), as sentences:
    the ECE sampling floor of its bins, and what one temperature alone would leave."""
    cal = cv.get("calibration") or {}
    bins, floor = cal.get("reliability") or [], cal.get("ece_sampling_floor")
    notes = []
    if floor and bins:
        notes.append(f"ECE that a perfectly calibrated model with these confidences would still show, from ~{walks_per_bin(bins)} "
                     f"walks a bin alone (labels drawn from its own probabilities, 200 draws): {floor['mean']:.3f} on average, "
                     f"{floor['p95']:.3f} at the 95th percentile (`metrics.ece_sampling_floor`).")
    by_temperature = ((cv.get("calibration_temperature") or {}).get("bootstrap_95") or {}).get("ece")
    if by_temperature:
        notes.append(f"Temperature scaling alone (one temperature, cross-fitted) leaves an ECE of {by_temperature['value']:.3f} "
                     f"({by_temperature['low']:.3f} – {by_temperature['high']:.3f}): a temperature is fitted for the likelihood "
                     "of all nine probabilities, the top-label calibration for the confidence of the answer, the "
                     "figure the app shows.")
    best = (cv.get("calibration_temperature") or {}).get("best_in_sample")
    if best:
        notes.append(f"No one temperature does much better: the best of all, chosen on these very walks (an optimistic "
                     f"bound, `protocol.best_temperature`), leaves {best['ece']:.3f} at T = {best['temperature']:.2f}. "
                     "A temperature can only scale the logits; the top-label calibration can also shift the "
                     "answer's confidence, which these walks need (see the card's top-label fit).")
    return notes


def calibration_lines(cv: dict[str, Any]) -> list[str]:
    """Pooled out-of-fold figures with subject-bootstrap 95% intervals, and the reliability bins."""
    cal = cv.get("calibration") or {}
    boot = cal.get("bootstrap_95") or {}
    if not boot:
        return []
    lines = ["", f"## Pooled out-of-fold figures and calibration (video only, {cal.get('method', 'cross-fitted temperatures')})",
             f"Every walk scored once by a model that never saw its subject; 95% intervals from "
             f"{cal.get('bootstrap', 'a bootstrap over subjects')}.", "", "| figure | value | 95% interval |", "|---|---|---|"]
    lines += [f"| {name} | {boot[k]['value']:.3f} | {boot[k]['low']:.3f} – {boot[k]['high']:.3f} |"
              for k, name in _BOOTSTRAP_NAMES.items() if k in boot]
    bins = cal.get("reliability") or []
    if bins:
        lines += ["", f"Reliability ({cal.get('bins', 'equal-count bins')}): mean confidence → accuracy (walks)", "",
                  " · ".join(f"{b['confidence']:.2f} → {b['accuracy']:.2f} ({b['count']})" for b in bins)]
    for note in calibration_notes(cv):
        lines += ["", note]
    teacher = cv.get("teacher")
    if teacher:
        lines += ["", f"The keypoint teacher (the second opinion shipped beside the student), same protocol, pooled: "
                      f"accuracy {teacher['accuracy']:.3f}, macro-F1 {teacher['macro_f1']:.3f}, 4-group accuracy "
                      f"{teacher.get('four_group_accuracy', float('nan')):.3f}, ECE {teacher['ece']:.3f}."]
    notes = cv.get("note_descriptions")
    if notes:
        lines += ["", f"Notes: giving a class's clinical description as the note raises that class's mean probability on "
                      f"held-out walks for {notes['raised_count']} of 9 classes ({', '.join(notes['raised'])})."]
    return lines


def render_markdown(card: dict[str, Any]) -> str:
    lines = ["# GaitLab model card", "", f"> {NOTICE}", ""]
    if card.get("status"):
        lines += [f"**Status:** {card['status']}", ""]
    lines += ["## Intended use", INTENDED_USE, "", "## Not for", NOT_FOR, ""]
    lines += ["## Model", f"- Architecture: `{card.get('architecture')}` {card.get('architecture_kwargs') or ''}",
              f"- Input view: {card.get('view')} clips, {card.get('clip', {}).get('frames')} frames of "
              f"{card.get('clip', {}).get('size')}×{card.get('clip', {}).get('size')}; note embedder "
              f"{card.get('embedder', {}).get('name')} ({card.get('embedder', {}).get('dim')}-d)"]
    if card.get("parameters"):
        lines.append(f"- Cost: {card['parameters']:,} parameters, {card.get('flops', 0) / 1e9:.2f} GFLOPs per clip")
    if card.get("calibration"):
        cal = card["calibration"]
        top = cal.get("top_label")
        what = f"top-label slope {top['slope']}, intercept {top['intercept']}; " if top else ""
        lines.append(f"- Calibration: {what}temperature {cal.get('temperature')} ({cal.get('method', '')})")
    sampling = card.get("clip", {}).get("sampling")
    if sampling:
        lines.append(f"- Clip sampling: {sampling}")
    distill = card.get("distillation")
    if distill:
        lines.append(f"- Distillation: weight {distill.get('weight')}, temperature {distill.get('temperature')}, "
                     f"teacher {distill.get('teacher', {}).get('architecture')} on keypoints ({distill.get('targets', '')})")
    data = card.get("training_data", {})
    lines += ["", "## Data and licence", f"- {data.get('dataset', '')}: {data.get('usable_videos')} usable videos, "
              f"{data.get('subjects')} subjects"]
    lines += [f"- Source: {s}" for s in data.get("sources", [])]
    if data.get("notes"):
        lines.append(f"- Notes: {data['notes']}")
    protocol = card.get("protocol", {})
    lines += ["", "## Evaluation protocol"] + [f"- {k.replace('_', ' ')}: {v}" for k, v in protocol.items()
                                               if isinstance(v, (str, int, float))]
    cv = card.get("cross_validation")
    if cv:
        lines += cross_validation_lines(cv)
    metrics = card.get("metrics") or {}
    table = metrics_table(metrics)
    if len(table):
        source = card.get("metrics_source")
        lines += ["", "## Figures" + (" (pooled out-of-fold)" if source else ""), ""] + ([source, ""] if source else []) + ["| variant | videos | accuracy | balanced accuracy | macro-F1 | ECE |", "|---|---|---|---|---|---|"]
        for _, r in table.iterrows():
            ece = "–" if r["ECE"] is None else f"{r['ECE']:.3f}"
            lines.append(f"| {r['variant']} | {r['videos']} | {_pct(r['accuracy'])} | {_pct(r['balanced accuracy'])} | {_pct(r['macro-F1'])} | {ece} |")
    head = headline_metrics(card)
    if head:
        lines += ["", "### Per-class recall", "", "| class | recall |", "|---|---|"]
        lines += [f"| {DISPLAY_NAMES[c]} | {_pct(head['per_class_recall'].get(c))} |" for c in CLASSES]
        cm = confusion_frame(head)
        lines += ["", "### Confusion matrix (rows: true class, columns: predicted)", "",
                  "| true \\ predicted | " + " | ".join(CLASSES) + " |", "|---" * (len(CLASSES) + 1) + "|"]
        lines += [f"| {c} | " + " | ".join(str(v) for v in cm.loc[c]) + " |" for c in CLASSES]
    f = card.get("faithfulness")
    if f:
        lines += ["", "## Are the explanations faithful?",
                  f"On {f['cases']} walks of held-out subjects ({f.get('split', '')}), blanking the "
                  f"{f['fraction']:.0%} of pixels Grad-CAM ranks highest in each frame lowered the predicted "
                  f"class's probability by {f['top_drop']:.3f} on average, against {f['random_drop']:.3f} for "
                  f"as many random pixels ({describe_ratio(f['top_drop'], f['random_drop'])}; random blanking "
                  f"below {RANDOM_DROP_FLOOR} counts as {RANDOM_DROP_FLOOR}). Command: `python -m gaitlab evaluate --faithfulness`."]
    lines += ["", "## Limits of the data"] + [f"- {w}" for w in DATA_LIMITS]
    if card.get("weak_spots"):
        lines += ["", "## Weak spots of this model"] + [f"- {w}" for w in card["weak_spots"]]
    lines += ["", "## Reproduce", f"- Command: `{card.get('command', '')}`",
              f"- Wall time: {_wall_time(card)} on a 2-core CPU", f"- Date: {card.get('date')}", ""]
    return "\n".join(lines)


def write_model_card(weights: Path = DEFAULT_WEIGHTS) -> Path:
    out = Path(weights).parent / "MODEL_CARD.md"
    out.write_text(render_markdown(read_card(weights)))
    return out
