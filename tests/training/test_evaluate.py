import json
import subprocess
import sys

import numpy as np
import pandas as pd

from gaitlab.synth.walker import WalkerParams, walk_keypoints


def _shared_format_folder(path):
    """A tiny folder in the gait-keypoints layout: two 'subjects' of two classes."""
    seqs, rows = {}, []
    for k, (label, params) in enumerate([("Normal", WalkerParams()), ("PD_Mild", WalkerParams(step_length=0.25, arm_swing=5)),
                                         ("Normal", WalkerParams(cadence=100)), ("PD_Mild", WalkerParams(trunk_flexion=20))]):
        vid = f"v{k}"
        seqs[vid] = walk_keypoints(params, n_frames=90).astype(np.float16)
        rows.append({"video_id": vid, "label": label, "subject_id": f"S{k}", "sequence": "01"})
    np.savez(path / "keypoints.npz", **seqs)
    pd.DataFrame(rows).to_csv(path / "metadata.csv", index=False)
    return path


def test_evaluate_scores_a_folder(tmp_path, random_weights):
    folder = _shared_format_folder(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "gaitlab", "evaluate", "--data", str(folder), "--json",
                           "--weights", str(random_weights)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["n_videos"] == 4 and out["n_subjects"] == 4 and "all walks" in out["scope"]
    for name in ("video_only", "fused"):
        assert 0 <= out[name]["accuracy"] <= 1 and len(out[name]["confusion_matrix"]) == 9
        assert sum(map(sum, out[name]["confusion_matrix"])) == 4


def test_evaluate_bad_folder(tmp_path, random_weights):
    proc = subprocess.run([sys.executable, "-m", "gaitlab", "evaluate", "--data", str(tmp_path),
                           "--weights", str(random_weights)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.startswith("error:") and "Traceback" not in proc.stderr
