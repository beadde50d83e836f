"""The `gaitlab` command line: `python -m gaitlab analyze|cohort|train …`.

Bad input ends with status 2 and one `error:` line on stderr, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gaitlab.constants import CLASSES, DISPLAY_NAMES, NOTICE
from gaitlab.errors import InputError, WeightsError


def _analyze(args: argparse.Namespace) -> int:
    from gaitlab.inference import analyze, get_model

    result = analyze(args.path, args.description, model=get_model(args.weights))
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
    analysis = analyze(args.path, args.description, model=model)
    explanation = explain(analysis, method=args.method, target=args.target, model=model)
    check = faithfulness(analysis, explanation, model=model)
    written = write_explanation(explanation, analysis, args.out, faithfulness=check)
    print(f"{explanation.method} for {explanation.target} (probability {explanation.target_probability:.2f}); "
          f"blanking the top 10% of pixels drops it by {check.top_drop:.3f} vs {check.random_drop:.3f} for random pixels")
    print(f"wrote {len(written)} files to {args.out}")
    for w in analysis.warnings:
        print(f"warning: {w}")
    return 0


def _cohort(args: argparse.Namespace) -> int:
    from gaitlab.cohort.run import CohortAborted, collect_inputs, execute_items

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


def _bench(args: argparse.Namespace) -> int:
    from gaitlab.bench import run_bench_cli

    return run_bench_cli(args)


def _add_command(sub, name: str, help_text: str, add_arguments, run) -> None:
    """A sub-command whose arguments and code live in their own module."""
    p = sub.add_parser(name, help=help_text)
    add_arguments(p)
    p.set_defaults(func=run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gaitlab", description=f"Video-based gait screening explorer. {NOTICE}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("analyze", help="classify the gait in one video or keypoint CSV")
    p.add_argument("path", help="video (mp4, mov, avi, mkv, webm) or MediaPipe keypoint CSV")
    p.add_argument("--description", default="", help="optional clinical note")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--weights", default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=_analyze)

    p = sub.add_parser("explain", help="Grad-CAM (or another attribution) overlays as PNG + JSON")
    p.add_argument("path", help="video or MediaPipe keypoint CSV")
    p.add_argument("--description", default="", help="optional clinical note")
    p.add_argument("--target", default=None, help="class to explain (default: the predicted one)")
    p.add_argument("--method", default="gradcam", help="gradcam, guided_gradcam, integrated_gradients or occlusion")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--weights", default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=_explain)

    p = sub.add_parser(
        "cohort", help="analyse a folder or manifest CSV into one CSV table",
        description="Analyse every case of a folder or manifest into one CSV row each. Rows are "
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
    p.add_argument("--weights", default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=_cohort)

    from gaitlab.bench import add_bench_arguments
    from gaitlab.training.evaluate import add_evaluate_arguments, run_evaluate
    from gaitlab.synth.simulator import add_simulate_arguments, run_simulate
    from gaitlab.training.train import add_train_arguments, run_train

    _add_command(sub, "simulate", "write a simulated walk (a class preset, adjustable) as .mp4 or .csv",
                 add_simulate_arguments, run_simulate)
    _add_command(sub, "evaluate", "score a gait-keypoints folder (metadata.csv + keypoints.npz) with the model",
                 add_evaluate_arguments, run_evaluate)
    _add_command(sub, "bench", "measure speed and memory on this machine (exits 0 even when a target is missed)",
                 add_bench_arguments, _bench)
    _add_command(sub, "train", "train the student model on the gait-keypoints data", add_train_arguments, run_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
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
