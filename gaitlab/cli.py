"""The `gaitlab` command line: `python -m gaitlab COMMAND …` (also the `gaitlab` script).

This module is the only one that parses arguments, and `main` holds the only error handler:
bad input ends with status 2 and one `error:` line on stderr, never a traceback; an unexpected
failure ends with status 1 and one `error: internal error …` line. Each command checks its
options, calls the library (imported inside the command, so `--help` starts fast) and prints.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from gaitlab.constants import CLASSES, DISPLAY_NAMES, NOTICE
from gaitlab.errors import InputError, WeightsError


def command_line() -> str:
    """The command as typed (recorded in model cards): `python -m gaitlab …` shows up in argv as
    `…/gaitlab/__main__.py`."""
    argv = sys.argv
    if argv and Path(argv[0]).name == "__main__.py":
        return "python -m " + Path(argv[0]).parent.name + " " + shlex.join(argv[1:])
    return shlex.join(argv)


def _print_metrics(name: str, m: dict) -> None:
    print(f"{name}: accuracy {m['accuracy']:.3f}  balanced {m['balanced_accuracy']:.3f}  "
          f"macro-F1 {m['macro_f1']:.3f}  ECE {m['ece']:.3f}")
    if "per_class_recall" in m:
        print("  recall: " + ", ".join(f"{c} {r:.2f}" for c, r in m["per_class_recall"].items() if r is not None))


# --- Using the model --------------------------------------------------------------------------
def _analyze(args: argparse.Namespace) -> int:
    from gaitlab.inference import analyze, get_model

    result = analyze(args.path, args.description, model=get_model(args.weights), person=args.person)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    print(f"{Path(args.path).name}: {DISPLAY_NAMES[result.label]} ({result.label}), confidence {result.confidence:.2f}")
    for c in sorted(CLASSES, key=lambda c: -result.probabilities[c]):
        p = result.probabilities[c]
        print(f"  {c:<22} {p:6.3f} {'#' * int(round(p * 40))}")
    print(f"  {len(result.clips)} clip(s); main clip frames {result.frame_indices[0]}–{result.frame_indices[-1]}")
    for w in result.warnings:
        print(f"warning: {w}")
    print(NOTICE)
    return 0


def _explain(args: argparse.Namespace) -> int:
    from gaitlab.explanations import METHODS, explain, faithfulness, write_explanation
    from gaitlab.inference import analyze, get_model

    if args.target is not None and args.target not in CLASSES:
        raise InputError(f"--target must be one of {', '.join(CLASSES)}, not {args.target!r}.")
    if args.method not in METHODS:
        raise InputError(f"--method must be one of {', '.join(METHODS)}, not {args.method!r}.")
    model = get_model(args.weights)
    analysis = analyze(args.path, args.description, model=model, person=args.person)
    explanation = explain(analysis, method=args.method, target=args.target, model=model)
    check = faithfulness(analysis, explanation, model=model)
    written = write_explanation(explanation, analysis, args.out, faithfulness=check)
    print(f"{explanation.method} for {explanation.target} (probability {explanation.target_probability:.2f}); "
          f"blanking the top 10% of pixels drops it by {check.top_drop:.3f} vs {check.random_drop:.3f} for random pixels")
    print(f"wrote {len(written)} files to {args.out}")
    for w in analysis.warnings:
        print(f"warning: {w}")
    return 0


def _probed(video: str):
    """A video argument, checked (`errors.check_input_file`) and probed (`video.probe_video`)."""
    from gaitlab.constants import VIDEO_EXTENSIONS
    from gaitlab.errors import check_input_file
    from gaitlab.pipeline.video import probe_video

    return probe_video(check_input_file(video, VIDEO_EXTENSIONS))


def _pose(args: argparse.Namespace) -> int:
    from gaitlab.pipeline.pose import track_walker, write_pose_csv

    out = Path(args.out)
    if out.suffix.lower() != ".csv":
        raise InputError(f"--out must name a .csv file, not {out.name!r}.")
    if not out.parent.is_dir():
        raise InputError(f"{out.parent} is not a folder.")
    track = track_walker(_probed(args.video), person=args.person)
    write_pose_csv(track, out)
    print(f"wrote {len(track.frame_indices)} frames ({int(track.detected.sum())} with person {track.person}) to {out}")
    for w in track.warnings:
        print(f"warning: {w}")
    return 0


def _people(args: argparse.Namespace) -> int:
    from gaitlab.pipeline.people import people_table
    from gaitlab.pipeline.pose import track_people

    info = _probed(args.video)
    track = track_people(info).walker()
    if args.json:
        print(json.dumps({"path": str(info.path), **track.people_summary()}, indent=2))
    else:
        print(people_table(track.people, info.path.name) + (f"\nnote: {track.no_walk}" if track.no_walk else ""))
    return 0


def _cohort(args: argparse.Namespace) -> int:
    from gaitlab.cohort.inputs import collect_inputs
    from gaitlab.cohort.run import CohortAborted, execute_items

    if args.scheduler and args.workers is not None:
        raise InputError("Give --workers (local processes) or --scheduler (a Dask cluster), not both.")
    if args.workers is not None and args.workers < 1:
        raise InputError(f"--workers must be 1 or more, not {args.workers}.")

    def report(k: int, n: int, row: dict) -> None:
        status = f"error: {row['error']}" if row["error"] else f"{row['predicted']} ({float(row['confidence']):.2f})"
        print(f"[{k}/{n}] {row['path']}: {status}", file=sys.stderr)

    try:
        run = execute_items(collect_inputs(args.input), args.out, workers=args.workers or 1,
                            weights=args.weights, progress=report, scheduler=args.scheduler,
                            resume=args.resume)
    except CohortAborted as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    kept = f"; kept {run.resumed} row(s) from the earlier run" if args.resume else ""
    redone = f", redid {run.dropped} incomplete line(s)" if run.dropped else ""
    print(f"wrote {len(run.table)} rows to {args.out} ({run.errors} error row(s)); "
          f"analysed {run.analysed} in {run.seconds:.1f} s{kept}{redone}")
    return 0


# --- The simulated walker -----------------------------------------------------------------------
def _simulate(args: argparse.Namespace) -> int:
    from gaitlab.synth.simulator import parse_settings, preset, with_values, write_walk

    params = with_values(preset(args.preset), parse_settings(args.settings))
    try:
        seconds, seed = float(args.seconds), int(args.seed)
    except ValueError:
        raise InputError(f"--seconds needs a number and --seed an integer, not {args.seconds!r}, "
                         f"{args.seed!r}.") from None
    if not 2.0 <= seconds <= 60.0:
        raise InputError(f"--seconds must lie in [2, 60], not {seconds:g}.")
    path = write_walk(params, args.out, seconds, seed, label=args.preset)
    print(f"wrote {seconds:g} s of the {args.preset} preset walk to {path}")
    return 0


def _presets(args: argparse.Namespace) -> int:
    from gaitlab.synth import presets

    if args.action == "fit":
        from gaitlab.training.dataset import load_gait_data

        path = presets.fit_and_save(load_gait_data(args.data), command=command_line())
        print(f"wrote {path}")
        return 0
    from gaitlab.inference import get_model

    for line in presets.report_lines(get_model(args.weights)):
        print(line)
    return 0


def _band(args: argparse.Namespace) -> int:
    from gaitlab.kinematics import band

    if args.class_medians:
        table = band.class_medians(band.walk_table(args.data))
        print(f"Per-class medians on {args.data.name} (`{command_line()}`); no frame rate: per 100 frames.")
        print(band.markdown_table(table) if args.markdown else table.round(2).to_string())
        return 0
    record = band.build_normal_band(args.data, command=command_line())
    path = band.write_band(record, args.out)
    prov = record["provenance"]
    print(f"normal band from {prov['walks']} {prov['label']} walks ({prov['subjects']} subjects) of "
          f"{prov['data']} written to {path}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from gaitlab.demo import make_demo_cases

    for p in make_demo_cases():
        print(p, p.stat().st_size)
    return 0


# --- Training and evaluation --------------------------------------------------------------------
def _train_config(args: argparse.Namespace, **extra):
    from gaitlab.training.train import TrainConfig

    return TrainConfig(epochs=args.epochs, clips_per_video=args.clips_per_video, bank_clips=args.bank_clips,
                       mixup=args.mixup, threads=max(1, args.threads),
                       distill_weight=args.distill_weight, temperature=args.teacher_temperature, **extra).checked()


def _train(args: argparse.Namespace) -> int:
    from gaitlab.training.dataset import load_gait_data
    from gaitlab.training.protocol import attach_to_card
    from gaitlab.training.train import run_training
    from gaitlab.weights import save_weights

    config = _train_config(args, batch_size=args.batch_size, lr=args.lr, val_fold=args.val_fold,
                           seed=args.seed)
    if not -1 <= config.val_fold < config.n_folds:
        raise InputError(f"--val-fold must be -1 or 0..{config.n_folds - 1}, not {config.val_fold}.")
    if args.distill and config.temperature < 2:
        print(f"warning: teacher temperature {config.temperature:g} < 2: the teacher's targets on its own "
              "training rows are over-confident", flush=True)
    data = load_gait_data(args.data)
    result, card = run_training(data, config, distill=args.distill,
                                command=command_line(), log=lambda s: print(s, flush=True))
    for kind in ("video_only", "fused") if result.metrics else ():
        _print_metrics(kind, result.metrics[kind])
    if config.val_fold < 0 and not attach_to_card(card, config, args.distill):
        print("warning: weights/protocol.json holds no complete cross-validation of this recipe; the card gets no "
              "figures and no calibration. Run `python -m gaitlab evaluate --protocol` with the same settings first.",
              flush=True)
    save_weights(result.model, card, args.out)
    print(f"saved {args.out} ({result.wall_time_s:.0f} s)")
    if result.teacher is not None and config.val_fold < 0:
        import numpy as np

        from gaitlab.training.model_card import teacher_card
        from gaitlab.training.protocol import read_protocol

        save_weights(result.teacher.net, teacher_card(result.teacher, data, np.arange(len(data.meta)), read_protocol(),
                                                      command_line()), args.teacher_out)
        print(f"saved {args.teacher_out} (the keypoint teacher: the second opinion)")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    if args.protocol:
        return _protocol(args)
    if args.notes:
        from gaitlab.training.evaluate import record_description_shift

        print("\n".join(record_description_shift(_train_config(args), args.data, args.protocol_out, command_line())))
        return 0
    if args.faithfulness:
        from gaitlab.training.evaluate import record_card_faithfulness

        print(json.dumps(record_card_faithfulness(args.weights, args.data), indent=2))
        return 0
    from gaitlab.training.evaluate import evaluate_shipped

    result = evaluate_shipped(args.weights, args.data)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['n_videos']} walks of {result['n_subjects']} subjects ({result['scope']})")
    for name in ("video_only", "fused"):
        _print_metrics(f"{name:>10}", {k: v for k, v in result[name].items() if k != "per_class_recall"})
    return 0


def _protocol(args: argparse.Namespace) -> int:
    from gaitlab.training.dataset import load_gait_data
    from gaitlab.training.protocol import N_FOLDS, RECIPES, run_protocol, save_protocol

    config = _train_config(args, val_fold=-1)
    recipes = [r.strip() for r in args.recipes.split(",") if r.strip()]
    try:
        folds = sorted({int(f) for f in args.folds.split(",")}) if args.folds else None
    except ValueError:
        raise InputError(f"--folds takes fold numbers like 0,1 — not {args.folds!r}.") from None
    if folds is not None and not all(0 <= f < N_FOLDS for f in folds):
        raise InputError(f"--folds must be within 0..{N_FOLDS - 1}.")
    unknown = [r for r in recipes if r not in RECIPES]
    if unknown:
        raise InputError(f"unknown recipe(s) {', '.join(unknown)}; known: {', '.join(RECIPES)}")
    result = run_protocol(load_gait_data(args.data), recipes, config, cache=args.cache, folds=folds,
                          log=lambda s: print(s, flush=True))
    save_protocol(result, args.protocol_out, command=command_line())
    if args.json:
        print(json.dumps(result, indent=1))
    print(f"wrote {args.protocol_out}")
    return 0


def _card(args: argparse.Namespace) -> int:
    from gaitlab.training.model_card import write_model_card

    if args.attach_protocol:
        from gaitlab.training.config import TrainConfig
        from gaitlab.training.protocol import attach_to_card
        from gaitlab.weights import DEFAULT_TEACHER, default_weights, read_card, write_card

        path = Path(args.weights) if args.weights else default_weights()
        card = read_card(path)
        config = TrainConfig.from_record(card.get("training", {}).get("config", {}))
        if not attach_to_card(card, config, card.get("distillation") is not None):
            raise InputError("weights/protocol.json holds no complete cross-validation of these weights' recipe: "
                             "run `python -m gaitlab evaluate --protocol` with the same settings first.")
        print(f"attached the protocol's figures and calibration to {write_card(path, card)}")
        if args.weights is None and DEFAULT_TEACHER.is_file():  # the teacher shipped beside it
            from gaitlab.training.model_card import teacher_figures
            from gaitlab.training.protocol import read_protocol

            teacher = {**read_card(DEFAULT_TEACHER), **teacher_figures(read_protocol())}
            print(f"attached the protocol's teacher figures to {write_card(DEFAULT_TEACHER, teacher)}")
    print(write_model_card(*([args.weights] if args.weights else [])))
    return 0


def _bench(args: argparse.Namespace) -> int:
    """Always exits 0 when it measured something: missed targets are printed, not failures."""
    from gaitlab.bench import format_report, run_bench

    report = run_bench(quick=args.quick, only=args.only, cache=args.cache, weights=args.weights)
    print(json.dumps(report.to_dict(), indent=2) if args.json else format_report(report))
    if report.failed():
        print(f"bench: targets missed: {', '.join(report.failed())}", file=sys.stderr)
    return 0


# --- The parser ---------------------------------------------------------------------------------
def _training_options(p: argparse.ArgumentParser) -> None:
    """Options shared by `train` and `evaluate --protocol` (defaults: `TrainConfig`)."""
    from gaitlab.training.dataset import DEFAULT_DATA_DIR
    from gaitlab.training.train import TrainConfig

    d = TrainConfig()
    p.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="gait-keypoints folder (metadata.csv + keypoints.npz)")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--clips-per-video", type=int, default=d.clips_per_video, help="random clips per video per epoch")
    p.add_argument("--bank-clips", type=int, default=d.bank_clips,
                   help="augmented clips rendered once per training video, drawn from every epoch")
    p.add_argument("--mixup", type=float, default=d.mixup, help="mixup Beta(a, a) parameter (0: off)")
    p.add_argument("--distill-weight", type=float, default=d.distill_weight,
                   help="share of the loss taken by the teacher's soft targets (0..1)")
    p.add_argument("--teacher-temperature", type=float, default=d.temperature,
                   help="softmax temperature of the distillation (≥ 2 recommended: the teacher saw these rows)")
    p.add_argument("--threads", type=int, default=d.threads,
                   help="torch threads of the student's training (1 when several runs share the cores)")


def build_parser() -> argparse.ArgumentParser:
    from gaitlab.bench import SECTIONS, default_cache
    from gaitlab.synth.simulator import PARAMETERS, SECONDS
    from gaitlab.training.protocol import DEFAULT_CACHE, PROTOCOL_JSON, RECIPES
    from gaitlab.training.train import TrainConfig
    from gaitlab.weights import DEFAULT_TEACHER, DEFAULT_WEIGHTS

    parser = argparse.ArgumentParser(prog="gaitlab", description=f"Video-based gait screening explorer. {NOTICE}")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, run, help_text: str, description: str | None = None) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=description or help_text)
        p.add_argument("--weights", default=None, help=argparse.SUPPRESS)
        p.set_defaults(func=run)
        return p

    p = command("analyze", _analyze, "classify the gait in one video or keypoint CSV")
    p.add_argument("path", help="video (mp4, mov, avi, mkv, webm) or MediaPipe keypoint CSV")
    p.add_argument("--description", default="", help="optional clinical note")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--person", type=int, default=None, help=PERSON_HELP)

    p = command("explain", _explain, "Grad-CAM (or another attribution) overlays as PNG + JSON")
    p.add_argument("path", help="video or MediaPipe keypoint CSV")
    p.add_argument("--description", default="", help="optional clinical note")
    p.add_argument("--target", default=None, help="class to explain (default: the predicted one)")
    p.add_argument("--method", default="gradcam", help="gradcam, guided_gradcam, integrated_gradients or occlusion")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--person", type=int, default=None, help=PERSON_HELP)

    p = command("pose", _pose, "the walker's MediaPipe Pose landmarks of a video, as a keypoint CSV",
                "Follow the walking person through a video with MediaPipe Pose and write their landmarks in the "
                "shared data's layout (x_0,y_0,z_0,v_0,…,x_32,y_32,z_32,v_32, then frame and time_s; empty cells "
                "where no walker). `analyze FILE.csv` then gives the same answer as `analyze VIDEO`.")
    p.add_argument("video", help="video (mp4, mov, avi, mkv, webm)")
    p.add_argument("--out", required=True, help="output .csv")
    p.add_argument("--person", type=int, default=None, help=PERSON_HELP)

    p = command("people", _people, "list everyone found in a video and who is analysed",
                "Track everyone in view through the whole video and list them: id, frames, seconds, travel, walking "
                "score (0-1), chosen (the one who walks most like a walker); --person ID picks another elsewhere.")
    p.add_argument("video", help="video (mp4, mov, avi, mkv, webm)")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = command("cohort", _cohort, "analyse a folder or manifest CSV into one CSV table",
                "Analyse every case of a folder or manifest into one CSV row each. Rows are "
                "written as cases finish; at the end the file is rewritten in input order. An existing "
                "output file is overwritten unless --resume is given.")
    p.add_argument("input", help="folder (searched recursively) or manifest CSV with a 'path' column")
    p.add_argument("--out", required=True, help="output CSV (overwritten unless --resume)")
    p.add_argument("--workers", type=int, default=None,
                   help="local worker processes (default 1); each loads the model once and uses one torch thread")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run on an existing Dask cluster, e.g. tcp://10.0.0.5:8786; the workers open the "
                   "files themselves at the absolute paths resolved here, so they must see the same files "
                   "at the same paths; each worker process loads the model once")
    p.add_argument("--resume", action="store_true",
                   help="keep the rows already in --out (results and error rows) and analyse only the "
                   "other cases; a half-written last line (from a crash) is redone")

    p = command("simulate", _simulate, "write a simulated walk (a class preset, adjustable) as .mp4 or .csv")
    p.add_argument("--preset", required=True, help=f"class whose preset walk to start from: {', '.join(CLASSES)}")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="settings",
                   help=f"change a parameter (repeatable): {', '.join(PARAMETERS)}")
    p.add_argument("--seconds", default=str(SECONDS), help=f"length of the walk (default {SECONDS:g})")
    p.add_argument("--seed", default="0", help="video background and clothing (default 0)")
    p.add_argument("--out", required=True, help="output: .mp4 video (aid drawn) or .csv MediaPipe keypoints")

    p = command("presets", _presets, "refit the simulator's class presets to the real data, or report how "
                "the model reads them")
    p.add_argument("action", choices=("fit", "report"),
                   help="fit: refit and write gaitlab/synth/presets.json; report: classify presets and sweeps")
    from gaitlab.training.dataset import DEFAULT_DATA_DIR
    p.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="gait-keypoints folder (fit)")

    from gaitlab.kinematics.band import DEFAULT_DATA_DIR as BAND_DATA
    from gaitlab.kinematics.reference import BAND_JSON
    p = command("band", _band, "build the kinematics' normal band from the shared data's Normal walkers",
                "Compute the kinematics of every Normal walk of a gait-keypoints folder and write the normal band "
                "(per parameter and per % of the gait cycle: mean, SD, n; with the data's SHA-256 and this command) "
                "as JSON. --class-medians prints per-class medians of the headline parameters instead.")
    p.add_argument("--data", type=Path, default=BAND_DATA, help="gait-keypoints folder (metadata.csv + keypoints.npz)")
    p.add_argument("--out", type=Path, default=BAND_JSON, help="band JSON to write (default: the one the package reads)")
    p.add_argument("--class-medians", action="store_true", help="print per-class medians; write nothing")
    p.add_argument("--markdown", action="store_true", help="with --class-medians: print a Markdown table")

    command("demo", _demo, "rebuild the demo cases in gaitlab/demo_cases/ (synthetic walks; real ones when the shared data is present)")

    p = command("train", _train, "train the student model on the gait-keypoints data")
    _training_options(p)
    d = TrainConfig()
    p.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS, help="weights file (.safetensors); card beside it")
    p.add_argument("--teacher-out", type=Path, default=DEFAULT_TEACHER,
                   help="with --distill and --val-fold -1: where the keypoint teacher is saved (the second opinion)")
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--val-fold", type=int, default=d.val_fold,
                   help=f"subject-grouped fold held out (0..{d.n_folds - 1}); -1 trains on all data")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--distill", action="store_true",
                   help="train the keypoint teacher on the same training rows and distil its soft targets")

    p = command("evaluate", _evaluate, "score a gait-keypoints folder (metadata.csv + keypoints.npz) with the model",
                "Score the shipped model on a gait-keypoints folder (on the training data: only the subjects the "
                "weights never saw); --protocol runs the subject-grouped 5-fold cross-validation instead; "
                "--faithfulness measures Grad-CAM's faithfulness on held-out subjects and records it in the card.")
    _training_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--faithfulness", action="store_true",
                   help="measure Grad-CAM faithfulness on held-out subjects and store it in the weights' card")
    p.add_argument("--notes", action="store_true",
                   help="with the protocol's fold models: does each class's clinical description, given as the "
                        "note, raise that class's probability on held-out walks? (stored in weights/protocol.json)")
    p.add_argument("--protocol", action="store_true",
                   help="run the 5-fold subject-grouped protocol on the training data and write weights/protocol.json")
    p.add_argument("--recipes", default="teacher,features,student_distilled",
                   help=f"comma-separated, of: {', '.join(RECIPES)}")
    p.add_argument("--folds", default=None, help="comma-separated folds to run (default: all 5)")
    p.add_argument("--protocol-out", type=Path, default=PROTOCOL_JSON,
                   help="JSON file the protocol's figures are merged into (default weights/protocol.json)")
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=argparse.SUPPRESS)

    p = command("card", _card, "render the weights' card as weights/MODEL_CARD.md")
    p.add_argument("--attach-protocol", action="store_true",
                   help="first give the card the cross-validated figures and calibration of its recipe from "
                        "weights/protocol.json (after a protocol run finished later than training)")

    p = command("bench", _bench, "measure speed and memory on this machine (exits 0 even when a target is missed)")
    p.add_argument("--json", action="store_true", help="print one JSON object (figures, targets, booleans)")
    p.add_argument("--quick", action="store_true", help="small videos and few runs (a smoke test, not figures)")
    p.add_argument("--only", action="append", choices=SECTIONS, default=None, help="run only this section (repeatable)")
    p.add_argument("--cache", default=None, help=f"folder for generated videos (default {default_cache()})")
    return parser


PERSON_HELP = "in a video, analyse this person (an id from `gaitlab people VIDEO`) instead of the walker"


def main(argv: list[str] | None = None) -> int:
    """Run one command; the single place where errors become one `error:` line and a status."""
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except (InputError, WeightsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: say so in one line rather than a traceback
        print(f"error: internal error ({type(exc).__name__}: {exc}); please report it", file=sys.stderr)
        return 1
