"""The evaluation protocol: subject-grouped, stratified `N_FOLDS`-fold cross-validation.

Every *recipe* (a way of turning training rows into a model) is fitted once per fold on the
other folds' subjects and scored on the fold's own subjects, so every walk of the data gets
exactly one out-of-fold prediction. Recipes:

- `teacher`: the keypoint temporal conv net (`gaitlab.training.teacher`), whole sequences;
- `features`: the hand-crafted gait-feature random forest (`gaitlab.training.baseline`);
- `student`: the video student (`pose_student`) on pose frames (view `pose_limbs`), labels only;
- `student_distilled`: the same, distilled from a teacher trained on the same training rows;
  (`weights/protocol.json` also keeps `silhouette_student` and `silhouette_student_distilled`:
  the earlier silhouette view under the same protocol, the comparison that chose pose frames);
- `seed_distilled`: the seed's architecture (`seed_student`) trained exactly like
  `student_distilled` (about 20× the compute: run it when there is time, see the README).

Students are scored three ways per walk: `video_only` (no note), `fused` (a synthetic note,
never dropped) and `as_trained` (notes drawn like the training notes: half dropped, some
misleading). Their clip log-probabilities are kept so that the calibration can be fitted
afterwards: a temperature (`fit_temperature`) and the top-label calibration the app applies to
a walk's answer (`fit_top_label`), each cross-fitted for the reported figures (fold k's comes
from the other folds' predictions) and pooled over all folds for the shipped weights. Per-fold results are cached on disk, so an interrupted run resumes where it stopped.

`run_protocol(data, recipes, config)` takes a `GaitData` and returns a JSON-ready dict (split,
fold sizes, and per recipe its per-fold, summarised and pooled `metrics.classification_metrics`);
`python -m gaitlab evaluate --protocol` runs it and merges it into `weights/protocol.json`
(`save_protocol`). `attach_to_card` copies the figures of a recipe into a model card.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gaitlab.constants import CLASSES, NUM_CLASSES
from gaitlab.errors import InputError
from gaitlab.calibration import calibrate, walk_probabilities
from gaitlab.metrics import (HEADLINE, classification_metrics, ece_sampling_floor, expected_calibration_error,
                             reliability_bins, subject_bootstrap, summarise)
from gaitlab.training.clip_bank import ClipBank
from gaitlab.training.config import TrainConfig
from gaitlab.training.dataset import N_FOLDS, GaitData, subject_folds
from gaitlab.training.model_card import build_card, teacher_card
from gaitlab.training.teacher import Teacher, TeacherConfig
from gaitlab.training.train import (NOTE_CONDITIONS, clip_log_probabilities, train_distillation_teacher,
                                    train_student)
from gaitlab.weights import WEIGHTS_DIR, load_weights, save_weights

PROTOCOL_JSON = WEIGHTS_DIR / "protocol.json"
DEFAULT_CACHE = WEIGHTS_DIR / "experiments" / "protocol"


@dataclass(frozen=True)
class StudentRecipe:
    """A student training recipe: architecture and whether a teacher is distilled into it."""

    architecture: str
    distill: bool
    description: str


STUDENT_RECIPES = {
    "student": StudentRecipe("pose_student", False, "(2+1)D student on pose frames, trained on the labels alone"),
    "student_distilled": StudentRecipe("pose_student", True, "(2+1)D student on pose frames distilled from the keypoint teacher"),
    "seed_distilled": StudentRecipe("seed_student", True, "the seed's 3D CNN, trained like student_distilled"),
}
SEQUENCE_RECIPES = {
    "teacher": "keypoint temporal conv net (privileged input: full-rate keypoints)",
    "features": "random forest on hand-crafted gait features",
}
RECIPES = (*SEQUENCE_RECIPES, *STUDENT_RECIPES)


# --- Scoring helpers ---------------------------------------------------------------------------


def video_probabilities(clip_logp: list[np.ndarray], temperature: float = 1.0,
                        top: tuple[float, float] | None = None) -> np.ndarray:
    """Per-video probabilities [N, 9] from each video's clip log-probabilities [n_i, 9] (at
    temperature 1): the mean of the clips' probabilities, scaled by the top-label calibration
    `top` (slope, intercept) or else by `temperature`, exactly as `analyze` scores a walk
    (`calibration.walk_probabilities`)."""
    from scipy.special import softmax  # scipy comes with scikit-learn

    return np.stack([walk_probabilities(softmax(lp, axis=1), temperature, top) for lp in clip_logp])


def fit_top_label(clip_logp: list[np.ndarray], labels: np.ndarray) -> tuple[float, float]:
    """Top-label calibration (slope, intercept) for `video_probabilities`: a logistic regression
    of "the walk's answer is right" on the logit of the answer's uncalibrated probability (Platt
    scaling of the top label, as in Gupta & Ramdas, "Top-label calibration", ICLR 2022): it is
    fitted for the confidence of the answer, the figure the app shows, where a temperature is
    fitted for the likelihood of all nine probabilities. (1, 0), the identity, when every answer
    is right or every one wrong."""
    from sklearn.linear_model import LogisticRegression

    p = video_probabilities(clip_logp)
    hit = (p.argmax(axis=1) == np.asarray(labels)).astype(int)
    if hit.min() == hit.max():
        return 1.0, 0.0
    top = np.clip(p.max(axis=1), 1e-6, 1 - 1e-6)
    fit = LogisticRegression(C=1e6).fit(np.log(top / (1 - top))[:, None], hit)  # C: no shrinkage
    return float(fit.coef_[0, 0]), float(fit.intercept_[0])


def fit_temperature(clip_logp: list[np.ndarray], labels: np.ndarray) -> float:
    """The temperature minimising the negative log-likelihood of `video_probabilities`.

    The temperature scales each walk's mean clip probabilities, so it never changes a walk's
    most probable class (scaling each clip before averaging could, and did for 2 of 216 walks).
    Searched on a log grid, then refined (1-D, convex enough in practice that a grid cannot
    miss the basin).
    """
    from scipy.optimize import minimize_scalar  # scipy comes with scikit-learn

    labels = np.asarray(labels)
    mean = video_probabilities(clip_logp)  # the walks' mean clip probabilities, once; each T rescales them

    def nll(log_t: float) -> float:
        p = calibrate(mean, float(np.exp(log_t)))
        return float(-np.log(np.clip(p[np.arange(len(labels)), labels], 1e-12, None)).mean())

    grid = np.linspace(np.log(0.1), np.log(10.0), 41)
    best = grid[int(np.argmin([nll(g) for g in grid]))]
    res = minimize_scalar(nll, bounds=(best - 0.12, best + 0.12), method="bounded")
    return float(np.exp(res.x))


def best_temperature(clip_logp: list[np.ndarray], labels: np.ndarray) -> dict[str, float]:
    """The lowest top-label ECE (10 equal-count bins) that any one temperature gives these walks,
    and that temperature: {"temperature", "ece"}, searched on a log grid from 0.1 to 10. Chosen
    on the very walks it is measured on, so an optimistic bound for one temperature (the
    cross-fitted ones, one per fold, can land a little either side of it by chance). It says
    whether a miss of temperature scaling is the fit's or the method's."""
    labels, mean = np.asarray(labels), video_probabilities(clip_logp)
    grid = np.exp(np.linspace(np.log(0.1), np.log(10.0), 161))
    eces = [expected_calibration_error(labels, calibrate(mean, float(t))) for t in grid]
    best = int(np.argmin(eces))
    return {"temperature": float(grid[best]), "ece": float(eces[best])}


# --- The fold teachers -------------------------------------------------------------------------


def fold_teacher(data: GaitData, train_idx: np.ndarray, seed: int, cache: Path | None) -> Teacher:
    """The keypoint teacher of one fold's training rows (`TeacherConfig(seed=seed)`), trained once
    and kept in `cache` (keyed by its settings and the training walks): the `teacher` recipe
    scores with it and `student_distilled` distils from it, so both read the same teacher and
    an interrupted protocol does not train it again. `cache` None: trained, not kept."""
    config = TeacherConfig(seed=seed)
    ids = sorted(str(v) for v in data.meta.loc[np.asarray(train_idx), "video_id"])
    key = hashlib.sha256(json.dumps([asdict(config), ids], sort_keys=True).encode()).hexdigest()[:16]
    path = None if cache is None else Path(cache) / "teachers" / f"teacher_{key}.safetensors"
    if path is not None and path.is_file():
        net, card = load_weights(path)
        return Teacher(config, net, card.get("history", []))
    teacher = Teacher(config).fit([data.sequence(int(r)) for r in train_idx], data.labels[train_idx])
    if path is not None:
        save_weights(teacher.net, teacher_card(teacher, data, np.asarray(train_idx), None), path)
    return teacher


def run_teacher_recipe(data: GaitData, splits: list[tuple[np.ndarray, np.ndarray]], seed: int,
                       cache: Path | None) -> dict[str, Any]:
    """The `teacher` recipe: every fold's teacher (`fold_teacher`) scores its held-out walks
    (whole sequences); per-fold, summarised and pooled metrics, and each fold's seconds."""
    probs = np.full((len(data.meta), NUM_CLASSES), np.nan)
    seconds = []
    for tr, va in splits:
        start = time.perf_counter()
        teacher = fold_teacher(data, tr, seed, cache)
        probs[va] = teacher.predict_proba([data.sequence(int(r)) for r in va])
        seconds.append(time.perf_counter() - start)
    return {"description": SEQUENCE_RECIPES["teacher"], "seconds": seconds,
            **summarise(data.labels, probs, [np.asarray(va) for _, va in splits])}


# --- Students --------------------------------------------------------------------------------


def run_student_fold(data: GaitData, recipe: str, train_idx: np.ndarray, val_idx: np.ndarray, config: TrainConfig,
                     weights_out: Path | None = None, bank: ClipBank | None = None,
                     teacher_cache: Path | None = None) -> dict[str, Any]:
    """Train `recipe` on `train_idx`, score `val_idx`; a JSON-ready record with clip log-probs.
    `bank`: a `ClipBank` holding the training rows (rendered here when None); a distilled
    recipe distils from `fold_teacher(…, teacher_cache)`."""
    spec = STUDENT_RECIPES[recipe]
    config = TrainConfig(**{**asdict(config), "architecture": spec.architecture})
    start = time.perf_counter()
    teacher_probs, distillation = None, None
    if spec.distill:
        teacher = fold_teacher(data, train_idx, config.seed, teacher_cache)
        teacher_probs, distillation = train_distillation_teacher(data, train_idx, val_idx, config, teacher=teacher)
        distillation.pop("_teacher")
    # The held-out fold is scored every `eval_every` epochs for the learning curve in the record
    # (convergence is read off it; nothing is selected on it).
    result = train_student(data, train_idx, val_idx, config, teacher_probs=teacher_probs, bank=bank)
    logp = clip_log_probabilities(result.model, data, val_idx, seed=config.seed)
    if weights_out is not None:
        card = build_card(data, config, result, train_idx, val_idx, distillation)
        card["protocol"]["cross_validation_recipe"] = recipe
        save_weights(result.model, card, weights_out)
    record = {
        "rows": [int(r) for r in val_idx],
        "clip_logp": {c: [lp.tolist() for lp in v] for c, v in logp.items()},
        "history": result.history,
        "seconds": time.perf_counter() - start,
    }
    if distillation and "metrics" in distillation["teacher"]:
        record["teacher_metrics"] = distillation["teacher"]["metrics"]
    return record


def summarise_student(data: GaitData, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Protocol figures of one student recipe from its per-fold records (all folds present).

    Each condition is reported uncalibrated (`raw`), temperature-scaled (`temperature`) and
    `calibrated` the way the app calibrates a walk (top-label calibration), with temperatures
    and top-label fits cross-fitted on the `as_trained` predictions of the other folds (the note
    mix users bring: often none). `calibration` holds the headline's (video only) reliability
    bins, bootstrap intervals and ECE sampling floor; `calibration_temperature` the same for
    temperature scaling alone, with `best_in_sample`, the best any one temperature could do
    (`best_temperature`). Also: the fits over all folds (`temperature`, `top_label`: what
    the shipped weights use) and `single_clip`: video-only with only each walk's middle clip.
    """
    labels = data.labels
    fold_rows = [np.asarray(r["rows"]) for r in records]
    logp = {c: [None] * len(labels) for c in NOTE_CONDITIONS}
    for rec in records:
        for c in NOTE_CONDITIONS:
            for row, lp in zip(rec["rows"], rec["clip_logp"][c]):
                logp[c][row] = np.asarray(lp)
    every = np.concatenate(fold_rows)
    fold_t, fold_top = [], []
    for rows in fold_rows:
        others = np.setdiff1d(every, rows)
        fold_t.append(fit_temperature([logp["as_trained"][r] for r in others], labels[others]))
        fold_top.append(fit_top_label([logp["as_trained"][r] for r in others], labels[others]))
    out: dict[str, Any] = {"temperatures_cross_fitted": fold_t, "top_labels_cross_fitted": fold_top}
    for c in NOTE_CONDITIONS:
        raw, temp, cal = (np.zeros((len(labels), NUM_CLASSES)) for _ in range(3))
        for rows, t, top in zip(fold_rows, fold_t, fold_top):
            raw[rows] = video_probabilities([logp[c][r] for r in rows])
            temp[rows] = video_probabilities([logp[c][r] for r in rows], t)
            cal[rows] = video_probabilities([logp[c][r] for r in rows], top=top)
        out[c] = {"raw": summarise(labels, raw, fold_rows), "temperature": summarise(labels, temp, fold_rows),
                  "calibrated": summarise(labels, cal, fold_rows)}
        if c == "video_only":
            headline = {"calibration": cal, "calibration_temperature": temp}
    # Calibration of the headline (video only, cross-fitted), pooled over folds: the reliability
    # diagram and subject-bootstrap 95% intervals, as the app calibrates and by temperature alone.
    subjects = data.meta["subject_id"].to_numpy()
    for key, probs in headline.items():
        out[key] = {
            "reliability": reliability_bins(labels[every], probs[every]),
            "bootstrap_95": subject_bootstrap(labels[every], probs[every], subjects[every]),
            # What a perfectly calibrated model with these confidences would still show (labels
            # drawn from its own probabilities): the floor set by ~22 walks a bin, not by the model.
            "ece_sampling_floor": ece_sampling_floor(probs[every]),
            "ece_by_bins": {str(n): expected_calibration_error(labels[every], probs[every], n) for n in (5, 8, 10, 12, 15, 20)},
            "method": ("top-label calibration (fit_top_label), cross-fitted" if key == "calibration"
                       else "temperature scaling (fit_temperature), cross-fitted"),
            "bins": "10 equal-count bins of top-label confidence",
            "bootstrap": "1000 resamples of subjects with replacement (all walks of a subject together)",
        }
    # Whether temperature scaling's miss is the cross-fit's or the method's: its best on these walks.
    out["calibration_temperature"]["best_in_sample"] = best_temperature([logp["video_only"][r] for r in every],
                                                                        labels[every])
    single = np.zeros((len(labels), NUM_CLASSES))
    for rows in fold_rows:
        single[rows] = video_probabilities([logp["video_only"][r][[len(logp["video_only"][r]) // 2]] for r in rows])
    out["single_clip"] = summarise(labels, single, fold_rows)
    out["temperature"] = fit_temperature([logp["as_trained"][r] for r in every], labels[every])
    out["top_label"] = fit_top_label([logp["as_trained"][r] for r in every], labels[every])
    out["seconds"] = [r["seconds"] for r in records]
    out["teacher_metrics_per_fold"] = [r.get("teacher_metrics") for r in records]
    return out


# --- The protocol ----------------------------------------------------------------------------


def _protocol_bank(data: GaitData, recipe: str, config: TrainConfig, log) -> ClipBank:
    """The clip bank of every row for `recipe`'s architecture (pooled as its input is)."""
    from gaitlab.model import build

    pool = getattr(build(STUDENT_RECIPES[recipe].architecture), "input_pool", 1)
    start = time.perf_counter()
    log(f"rendering the clip bank: {config.bank_clips} clips of each of {len(data.meta)} walks …")
    bank = ClipBank(data, np.arange(len(data.meta)), config.bank_clips, pool, config.seed)
    log(f"clip bank: {len(bank)} clips, {bank.clips.nbytes / 1e6:.0f} MB, {time.perf_counter() - start:.0f} s")
    return bank


def fold_weights_path(record: Path) -> Path:
    """Where the fold model of a fold record is kept (its card beside it)."""
    return record.with_name(record.stem + "_model.safetensors")


def fold_record_path(cache: Path, recipe: str, fold: int, config: TrainConfig) -> Path:
    tag = (f"e{config.epochs}c{config.clips_per_video}b{config.bank_clips}m{config.mixup:g}s{config.seed}"
           f"w{config.distill_weight:g}t{config.temperature:g}")
    arch = STUDENT_RECIPES[recipe].architecture if recipe in STUDENT_RECIPES else config.architecture
    return cache / f"{arch}_{tag}" / f"{recipe}_fold{fold}.json"


def run_protocol(data: GaitData, recipes: list[str], config: TrainConfig, cache: Path = DEFAULT_CACHE,
                 folds: list[int] | None = None, log=print) -> dict[str, Any]:
    """Cross-validate `recipes` over the subject-grouped folds; JSON-ready results.

    Student folds are cached under `cache` (with each fold model's weights beside them), so
    a rerun only trains what is missing. Recipes whose folds are not all done are reported as
    `incomplete` with the folds they have.
    """
    from gaitlab.training.baseline import FeatureBaseline, cross_validate  # scikit-learn loads only when needed

    splits = subject_folds(data.meta, N_FOLDS, config.seed)
    subjects = data.meta["subject_id"].to_numpy()
    for tr, va in splits:  # the protocol's one promise: never a person on both sides
        if set(subjects[tr]) & set(subjects[va]):
            raise AssertionError("a subject is on both sides of a fold")
    folds = list(range(N_FOLDS)) if folds is None else folds
    results: dict[str, Any] = {}
    banks: dict[str, ClipBank] = {}
    for recipe in recipes:
        if recipe not in RECIPES:
            raise InputError(f"unknown recipe {recipe!r}; known: {', '.join(RECIPES)}")
        start = time.perf_counter()
        if recipe in SEQUENCE_RECIPES:
            if recipe == "teacher":
                results[recipe] = run_teacher_recipe(data, splits, config.seed, cache)
            else:
                cv = cross_validate(lambda: FeatureBaseline(random_state=config.seed), data, splits)
                results[recipe] = {"description": SEQUENCE_RECIPES[recipe], "seconds": cv["seconds"],
                                   **{k: cv[k] for k in ("folds", "summary", "pooled")}}
            log(f"{recipe}: {_headline(results[recipe]['summary'])}  ({time.perf_counter() - start:.0f} s)")
            continue
        records = []
        for fold in folds:
            path = fold_record_path(cache, recipe, fold, config)
            if not path.is_file():
                if banks.get(recipe) is None:  # one bank of every row serves all folds (a fold trains on its own rows)
                    banks[recipe] = _protocol_bank(data, recipe, config, log)
                log(f"{recipe} fold {fold}: training …")
                tr, va = splits[fold]
                rec = run_student_fold(data, recipe, tr, va, config, weights_out=fold_weights_path(path), bank=banks[recipe],
                                       teacher_cache=cache)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(rec))
                log(f"{recipe} fold {fold}: {rec['seconds']:.0f} s")
            records.append(json.loads(path.read_text()))
        if len(records) < N_FOLDS:
            # Too few folds for the protocol (or a temperature): each done fold's raw figures.
            results[recipe] = {"incomplete": True, "description": STUDENT_RECIPES[recipe].description, "config": asdict(config),
                               "folds_done": folds, "seconds": [r["seconds"] for r in records],
                               "folds": [{c: classification_metrics(data.labels[r["rows"]], video_probabilities(
                                   [np.asarray(lp) for lp in r["clip_logp"][c]])) for c in NOTE_CONDITIONS}
                                   for r in records]}
            log(f"{recipe}: folds {folds} only (incomplete protocol)")
            continue
        results[recipe] = {"description": STUDENT_RECIPES[recipe].description, "config": asdict(config),
                           **summarise_student(data, records)}
        log(f"{recipe}: video-only calibrated {_headline(results[recipe]['video_only']['calibrated']['summary'])}")
    return {
        "split": f"StratifiedGroupKFold(n_splits={N_FOLDS}, shuffle=True, random_state={config.seed}) over "
                 "subject_id, stratified by label",
        "videos": int(len(data.meta)), "subjects": int(data.meta["subject_id"].nunique()),
        "fold_sizes": [{"videos": int(len(va)), "subjects": int(len(set(subjects[va])))} for _, va in splits],
        "recipes": results,
    }


def _headline(summary: dict[str, Any]) -> str:
    return "  ".join(f"{k} {summary[k]['mean']:.3f}±{summary[k]['std']:.3f}" for k in HEADLINE)


def save_protocol(result: dict[str, Any], path: Path = PROTOCOL_JSON, command: str = "") -> Path:
    """Merge a `run_protocol` result into `path` (earlier recipes kept; each recipe records the
    command that made it, since one file gathers several runs)."""
    for res in result.get("recipes", {}).values():
        res["command"] = command
    path = Path(path)
    old = json.loads(path.read_text()) if path.is_file() else {}
    merged = {**old, **result, "recipes": {**old.get("recipes", {}), **result.get("recipes", {})}}
    path.write_text(json.dumps(merged, indent=1) + "\n")
    return path


# --- Into the model card ---------------------------------------------------------------------

CONDITION_NAMES = {"video_only": "video only (no note)", "fused": "with a note", "as_trained": "notes as in training (half empty)"}


def protocol_rows(protocol: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (recipe, scoring) of a protocol result: headline means and spreads across folds.

    Students appear once per note condition (calibrated with cross-fitted temperatures) and once
    uncalibrated video-only; sequence models (teacher, features) once."""
    rows = []

    def add(recipe: str, variant: str, summary: dict[str, Any]) -> None:
        rows.append({"recipe": recipe, "variant": variant,
                     **{k: summary[k]["mean"] for k in HEADLINE}, **{f"{k}_std": summary[k]["std"] for k in HEADLINE}})

    for recipe, res in protocol.get("recipes", {}).items():
        if res.get("incomplete"):
            continue
        if recipe in SEQUENCE_RECIPES:
            add(recipe, "keypoints", res["summary"])
            continue
        for condition in NOTE_CONDITIONS:
            add(recipe, CONDITION_NAMES[condition], res[condition]["calibrated"]["summary"])
        add(recipe, "video only, uncalibrated", res["video_only"]["raw"]["summary"])
        add(recipe, "video only, middle clip only", res["single_clip"]["summary"])
    return rows


def card_section(protocol: dict[str, Any], recipe: str) -> dict[str, Any]:
    """What the shipped weights' card records of the protocol that chose their `recipe`."""
    res = protocol["recipes"][recipe]
    recall = {c: res["video_only"]["calibrated"]["summary"].get(f"recall_{c}") for c in CLASSES}
    return {
        "recipe": recipe, "split": protocol["split"], "videos": protocol["videos"], "subjects": protocol["subjects"],
        "fold_sizes": protocol["fold_sizes"], "command": res.get("command"),
        "rows": protocol_rows(protocol), "video_only_recall": recall,
        "seconds_per_fold": res.get("seconds"),
        "calibration": res.get("calibration"),
        "calibration_temperature": res.get("calibration_temperature"),
        "teacher": (protocol["recipes"].get("teacher") or {}).get("pooled"),
        "note_descriptions": protocol.get("note_descriptions"),
    }


def read_protocol(path: Path = PROTOCOL_JSON) -> dict[str, Any] | None:
    """The protocol's record (`run_protocol`'s result as `save_protocol` wrote it), or None when
    `path` does not exist."""
    return json.loads(Path(path).read_text()) if Path(path).is_file() else None


def matching_protocol(config: TrainConfig, distill: bool, path: Path = PROTOCOL_JSON) -> tuple[str, dict[str, Any]] | None:
    """(recipe, protocol) when `path` holds a complete cross-validation of this very recipe
    (same architecture, distillation, epochs, clips, seed and distillation settings), else None."""
    protocol = read_protocol(path)
    if protocol is None:
        return None
    recipe = "student_distilled" if distill else "student"
    res = protocol.get("recipes", {}).get(recipe)
    if config.architecture != STUDENT_RECIPES[recipe].architecture or not res or res.get("incomplete"):
        return None
    cv = res.get("config", {})
    keys = ["epochs", "clips_per_video", "bank_clips", "mixup", "seed", "batch_size", "lr"] + (["distill_weight", "temperature"] if distill else [])
    return (recipe, protocol) if all(cv.get(k) == getattr(config, k) for k in keys) else None


def weak_spots(res: dict[str, Any], worst: int = 4) -> list[str]:
    """Plain sentences on a student recipe's weakest classes and commonest confusions (video only)."""
    summary = res["video_only"]["calibrated"]["summary"]
    pooled = res["video_only"]["calibrated"]["pooled"]
    out = []
    for c in CLASSES:
        r = summary.get(f"recall_{c}")
        if r is None:
            out.append(f"{c}: never tested (no fold holds it).")
        elif r["mean"] < 0.5:
            one = " — a single subject, tested only when it was never trained on" if c == "PD_Severe" else ""
            out.append(f"{c}: recall {r['mean']:.2f} ± {r['std']:.2f} over the {r['folds']} fold(s) that hold it{one}.")
    cm = np.asarray(pooled["confusion_matrix"])
    off = [(cm[i, j], i, j) for i in range(NUM_CLASSES) for j in range(NUM_CLASSES) if i != j and cm[i, j] > 0]
    for n, i, j in sorted(off, reverse=True)[:worst]:
        out.append(f"{CLASSES[i]} read as {CLASSES[j]}: {n} of {cm[i].sum()} walks (pooled out-of-fold).")
    return out


def attach_to_card(card: dict[str, Any], config: TrainConfig, distill: bool) -> bool:
    """Give all-data weights the cross-validated figures and calibration (top-label and temperature) of the
    protocol run of their very recipe (weights/protocol.json); False if there is none."""
    match = matching_protocol(config, distill)
    if match is None:
        return False
    recipe, protocol = match
    res = protocol["recipes"][recipe]
    slope, intercept = res["top_label"]
    card["calibration"] = {
        "temperature": round(float(res["temperature"]), 4),
        "top_label": {"slope": round(float(slope), 4), "intercept": round(float(intercept), 4)},
        "method": f"a walk's answer: top-label calibration, a logistic fit of 'the answer is right' on the logit of its "
                  f"probability over the {N_FOLDS}-fold out-of-fold predictions of this recipe (notes as in training); "
                  "single clips: one temperature minimising the NLL of the same predictions; the cross-validated "
                  "figures use cross-fitted fits (each fold's from the other folds)",
    }
    card["metrics"] = {c: res[c]["calibrated"]["pooled"] for c in CONDITION_NAMES}
    card["metrics_source"] = (f"pooled out-of-fold predictions of the subject-grouped {N_FOLDS}-fold protocol, recipe {recipe!r} "
                              "(the same recipe as these weights), calibrated")
    card["cross_validation"] = card_section(protocol, recipe)
    card["weak_spots"] = weak_spots(res)
    return True
