"""The 33 MediaPipe Pose landmarks by name: the one place that knows which index is which.

Every sequence in GaitLab is float [T, 33, 4] (x, y, z, visibility) in MediaPipe Pose's order.
Single landmarks are ints; left/right pairs are `(left, right)` tuples (MediaPipe numbers the
left side odd from 11 on). `MIRROR_ORDER` is the landmark order of the mirror image.
"""
from __future__ import annotations

import numpy as np

from gaitlab.constants import NUM_LANDMARKS

NOSE, L_EAR, R_EAR = 0, 7, 8
SHOULDER, ELBOW, WRIST = (11, 12), (13, 14), (15, 16)
PINKY, INDEX = (17, 18), (19, 20)  # hand points: pinky and index knuckles
HIP, KNEE, ANKLE = (23, 24), (25, 26), (27, 28)
HEEL, FOOT_INDEX = (29, 30), (31, 32)
FEET = tuple(range(ANKLE[0], NUM_LANDMARKS))  # ankles, heels and toes of both feet

# Swapping these pairs turns a person into their mirror image (left ↔ right labels).
MIRROR_PAIRS = ((1, 4), (2, 5), (3, 6), (L_EAR, R_EAR), (9, 10)) + tuple((i, i + 1) for i in range(11, 33, 2))
_PARTNER = dict(MIRROR_PAIRS) | {b: a for a, b in MIRROR_PAIRS}
MIRROR_ORDER = np.array([_PARTNER.get(i, i) for i in range(NUM_LANDMARKS)])

# Leg segments whose true length is constant: thighs (hip, knee) and shanks (knee, ankle).
LEG_SEGMENTS: tuple[tuple[int, int], ...] = tuple(zip(HIP, KNEE)) + tuple(zip(KNEE, ANKLE))

# The skeleton as drawn for people: (from, to) landmark pairs per body side.
LEFT_BONES = ((SHOULDER[0], ELBOW[0]), (ELBOW[0], WRIST[0]), (HIP[0], KNEE[0]), (KNEE[0], ANKLE[0]),
              (ANKLE[0], HEEL[0]), (HEEL[0], FOOT_INDEX[0]), (ANKLE[0], FOOT_INDEX[0]))
RIGHT_BONES = tuple((a + 1, b + 1) for a, b in LEFT_BONES)  # MediaPipe: right = left + 1
TRUNK_BONES = ((SHOULDER[0], SHOULDER[1]), (HIP[0], HIP[1]), (SHOULDER[0], HIP[0]), (SHOULDER[1], HIP[1]),
               (NOSE, L_EAR), (NOSE, R_EAR))
