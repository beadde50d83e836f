"""Everyone in view as tracks through the whole clip, and which of them is the walker.

The walker is chosen after the whole clip has been seen, never by who was found first:

    per analysed frame, every pose found (pose_models.PeopleDetector): K × float32 [33, 4]
        │  TrackLinker.update(row, poses): assignment (scipy's linear_sum_assignment) on the
        │  body centres' distance in body heights, with a gate that grows with the time since
        │  a track was last seen, a size gate, and an expiry: a newcomer never inherits
        │  someone else's track
        ▼
    PersonTrack: id, rows, poses → `landmarks(n_rows)` float32 [T, 33, 4] (NaN elsewhere)
        │  describe_people: per track the walking features (`pipeline.walking`): progress
        │  across the frame or towards / away from the camera, alternating ankles, bounce,
        │  time in view, visibility → walking score and, for a non-walk, the reason
        ▼
    Person (id, frames in view, travel, walking score, chosen, best frame and box)
        │  choose_walker: the highest walking score among those who walk (size, position and
        ▼  order of appearance play no part)
    the walker's id (or the user's `--person`)

Distances are measured in pixels of the displayed frame and divided by a body height in
pixels (the vertical extent of the landmarks), so "half a body height" means the same
sideways and upwards.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from gaitlab.constants import NUM_LANDMARKS
from gaitlab.pipeline.landmarks import HIP, SHOULDER
from gaitlab.pipeline.pose_models import pose_box, same_person
from gaitlab.pipeline.walking import REFUSAL_PREFIX, walk_features, walk_refusal, walking_score

# A pose continues a track when its body centre lies within this many body heights of the
# track's last centre (walking moves it about 0.03 heights a frame at 30 fps; two people
# side by side are about 0.3-0.5 heights apart)...
LINK_GATE_HEIGHTS = 0.5
# ...plus this many body heights per second since the track was last seen (a brisk walk is
# about 1.5 heights/s), so a walker hidden for a moment behind someone is found again...
LINK_SPEED_HEIGHTS_PER_S = 1.5
# ...and when the two body heights are within this ratio (a glitch folded at the feet, or
# someone much nearer or further away, is not the same person).
LINK_SIZE_RATIO = 1.6
# A track's velocity is measured over its last this many seconds: its centre is looked for
# where that velocity carries it, so two people passing each other keep their own tracks.
VELOCITY_S = 0.3
# Where two people overlap (one passing in front of the other) their centres coincide; their
# sizes still differ: the cost adds this weight times |ln(body height ratio)| (two walkers at
# 0.55 and 0.41 of the frame's height crossing in two_people.mp4: 0.29).
LINK_SIZE_WEIGHT = 1.0
# A track unseen for this long is closed: whoever appears later is someone new.
EXPIRE_S = 1.0
# A track that ends is continued by one that starts within this long after it (the walker
# hidden behind someone, or out of view at a turn: 1.5 and 2 s behind the bystander in
# `walker_with_bystander.mp4`)...
STITCH_MAX_S = 3.0
# ...where the first track, carried on at its last velocity (over its last STITCH_VELOCITY_S),
# or the second carried back, comes within this many body heights of the other's end, plus
# this many per second of the gap (walkers slow down, turn and speed up again)...
STITCH_GATE_HEIGHTS, STITCH_SPREAD_PER_S, STITCH_VELOCITY_S = 0.5, 0.5, 0.5
# ...and their median body heights are within this ratio.
STITCH_SIZE_RATIO = 1.3
# Anyone not found in a frame, seen up to this long before, is looked for around where they
# should be (`pose_models.PeopleDetector.look_around`), and what is found there continues
# their track when it lies within LINK_GATE_HEIGHTS of that place.
LOOK_FOR_S = 2.5
# People whose median body height is under this share of the frame's are too small to read
# (too few pixels per limb): someone larger who walks is preferred (pose.py warns of them).
MIN_BODY_SHARE = 0.15
# Tracks in view for less than this are glitches (a coat on a chair, a reflection): not listed.
MIN_TRACK_S = 0.5


def body_geometry(pose: np.ndarray, width: int, height: int) -> tuple[np.ndarray, float]:
    """Body centre (mean of shoulders and hips) in pixels [2] and body height in pixels
    (vertical extent of all landmarks) of one pose [33, 4] normalised to a width×height frame."""
    xy = np.asarray(pose, dtype=np.float64)[:, :2] * (width, height)
    centre = xy[list(SHOULDER) + list(HIP)].mean(axis=0)
    return centre, float(np.ptp(xy[:, 1]))


@dataclass
class PersonTrack:
    """One person through the clip: analysed-frame `rows` (ascending) and their `poses`."""

    id: int
    rows: list[int] = field(default_factory=list)
    poses: list[np.ndarray] = field(default_factory=list)
    centre: np.ndarray | None = None  # last body centre, pixels
    body: float = 0.0  # last body height, pixels
    recent: list[tuple[int, np.ndarray]] = field(default_factory=list, repr=False)  # (row, centre), last few

    def landmarks(self, n_rows: int) -> np.ndarray:
        """float32 [n_rows, 33, 4]: this person's poses, NaN rows where not in view."""
        out = np.full((n_rows, NUM_LANDMARKS, 4), np.nan, dtype=np.float32)
        for r, p in zip(self.rows, self.poses):
            if r < n_rows:
                out[r] = p
        return out


class TrackLinker:
    """Links each frame's poses into `PersonTrack`s (module docstring). `rate` is analysed
    frames per second; call `update` with ascending rows."""

    def __init__(self, width: int, height: int, rate: float):
        self.width, self.height, self.rate = width, height, float(rate)
        self.all: list[PersonTrack] = []
        self.expire_rows = max(1, round(EXPIRE_S * self.rate))

    def update(self, row: int, poses: list[np.ndarray]) -> None:
        geometry = [body_geometry(p, self.width, self.height) for p in poses]
        usable = [i for i, (c, b) in enumerate(geometry) if np.isfinite(c).all() and b > 0]
        open_tracks = [t for t in self.all if row - t.rows[-1] <= self.expire_rows]
        cost = np.full((len(open_tracks), len(usable)), np.inf)
        for a, track in enumerate(open_tracks):
            gap_s = (row - track.rows[-1]) / self.rate
            expected = track.centre + self._velocity(track) * gap_s
            for b, i in enumerate(usable):
                centre, body = geometry[i]
                scale = max(body, track.body)
                if scale / max(min(body, track.body), 1e-9) > LINK_SIZE_RATIO:
                    continue
                distance = float(np.hypot(*(centre - expected))) / scale
                if distance <= LINK_GATE_HEIGHTS + LINK_SPEED_HEIGHTS_PER_S * gap_s:
                    cost[a, b] = distance + LINK_SIZE_WEIGHT * abs(np.log(body / track.body))
        taken: set[int] = set()
        if cost.size:
            for a, b in zip(*linear_sum_assignment(np.where(np.isfinite(cost), cost, 1e6))):
                if np.isfinite(cost[a, b]):
                    self._add(open_tracks[a], row, poses[usable[b]], geometry[usable[b]])
                    taken.add(b)
        for b, i in enumerate(usable):
            if b not in taken:
                track = PersonTrack(id=len(self.all) + 1)
                self.all.append(track)
                self._add(track, row, poses[i], geometry[i])

    def lost(self, row: int) -> list[tuple[PersonTrack, np.ndarray]]:
        """Tracks to look for at `row` (`LOOK_FOR_S`), each with where its body centre should
        be (pixels, inside the frame), carried on at its last velocity (`_end_motion`)."""
        out = []
        for t in self.all:
            if t.rows[-1] >= row or (row - t.rows[-1]) / self.rate > LOOK_FOR_S:
                continue
            _, centre, velocity = self._end_motion(t, last=True)
            centre = centre + velocity * (row - t.rows[-1]) / self.rate
            if 0 <= centre[0] < self.width and 0 <= centre[1] < self.height:
                out.append((t, centre))
        return out

    def extend(self, track: PersonTrack, row: int, pose: np.ndarray, centre: np.ndarray) -> bool:
        """Continue `track` at `row` with a pose found where it was looked for (`centre`,
        pixels), if the pose lies there, has the track's size and is nobody else's this row."""
        where, body = body_geometry(pose, self.width, self.height)
        if not (np.isfinite(where).all() and body > 0):
            return False
        scale = max(body, track.body)
        if scale / max(min(body, track.body), 1e-9) > LINK_SIZE_RATIO:
            return False
        if np.hypot(*(where - centre)) > LINK_GATE_HEIGHTS * scale:
            return False
        if any(other is not track and other.rows[-1] == row and same_person(pose, other.poses[-1])
               for other in self.all):
            return False  # someone already seen in this frame
        self._add(track, row, pose, (where, body))
        return True

    def _velocity(self, track: PersonTrack) -> np.ndarray:
        """A track's body centre velocity, pixels per second, over its last `VELOCITY_S`."""
        (r0, c0), (r1, c1) = track.recent[0], track.recent[-1]
        return (c1 - c0) * self.rate / (r1 - r0) if r1 > r0 else np.zeros(2)

    def _add(self, track: PersonTrack, row: int, pose: np.ndarray, geometry: tuple[np.ndarray, float]) -> None:
        track.rows.append(row)
        track.poses.append(np.asarray(pose, dtype=np.float32))
        track.centre, track.body = geometry
        keep = max(2, round(VELOCITY_S * self.rate))
        track.recent = [(r, c) for r, c in track.recent if row - r < keep] + [(row, geometry[0])]

    def _end_motion(self, track: PersonTrack, last: bool) -> tuple[float, np.ndarray, np.ndarray]:
        """(time s, body centre px, velocity px/s) at one end of a track, the velocity over
        that end's `STITCH_VELOCITY_S` (only those poses are measured)."""
        window = max(1, round(STITCH_VELOCITY_S * self.rate))
        rows, poses = (track.rows[-window:], track.poses[-window:]) if last else (track.rows[:window], track.poses[:window])
        centres = np.array([body_geometry(p, self.width, self.height)[0] for p in poses])
        span = (rows[-1] - rows[0]) / self.rate
        velocity = (centres[-1] - centres[0]) / span if span > 0 else np.zeros(2)
        k = -1 if last else 0
        return rows[k] / self.rate, centres[k], velocity

    def _median_body(self, track: PersonTrack) -> float:
        """A track's median body height, pixels."""
        return float(np.median([body_geometry(p, self.width, self.height)[1] for p in track.poses]))

    def _stitched(self, tracks: list[PersonTrack]) -> list[PersonTrack]:
        """Tracks joined end to start where one person was lost for a while (`STITCH_*`):
        the closest candidate pairs first, each track continued once."""
        body = {id(t): self._median_body(t) for t in tracks}
        starts = {id(t): self._end_motion(t, last=False) for t in tracks}
        pairs = []
        for a in tracks:
            (t_a, c_a, v_a), h_a = self._end_motion(a, last=True), body[id(a)]
            for b in tracks:
                if b is a or b.rows[0] <= a.rows[-1]:
                    continue
                (t_b, c_b, v_b), h_b = starts[id(b)], body[id(b)]
                gap = t_b - t_a
                if gap > STITCH_MAX_S or max(h_a, h_b) / max(min(h_a, h_b), 1e-9) > STITCH_SIZE_RATIO:
                    continue
                miss = min(np.hypot(*(c_a + v_a * gap - c_b)), np.hypot(*(c_b - v_b * gap - c_a)))
                miss /= max(h_a, h_b)
                if miss <= STITCH_GATE_HEIGHTS + STITCH_SPREAD_PER_S * gap:
                    pairs.append((miss, id(a), id(b), a, b))
        after: dict[int, PersonTrack] = {}
        before: set[int] = set()
        for _, ia, ib, a, b in sorted(pairs, key=lambda x: x[0]):
            if ia not in after and ib not in before:
                after[ia], _ = b, before.add(ib)
        out = []
        for t in tracks:
            if id(t) in before:
                continue  # continues another track
            head = t
            while id(t) in after:
                t = after[id(t)]
                head.rows, head.poses = head.rows + t.rows, head.poses + t.poses
            out.append(head)
        return out

    def tracks(self) -> list[PersonTrack]:
        """The tracks in view for at least `MIN_TRACK_S`, those of one person lost for a while
        joined, numbered 1, 2, … in order of appearance."""
        kept = [t for t in self.all if len(t.rows) >= max(2, round(MIN_TRACK_S * self.rate))]
        kept = sorted(self._stitched(kept), key=lambda t: t.rows[0])
        for k, t in enumerate(kept, start=1):
            t.id = k
        return kept


@dataclass
class Person:
    """One person found in a video, as the user sees them listed (`gaitlab people`)."""

    id: int
    frames: int  # analysed frames in view
    first_frame: int  # source frame numbers
    last_frame: int
    seconds: float  # time in view
    travel_heights: float  # progress across the frame or towards / away from the camera
    walking_score: float  # 0..1, `walking.walking_score`
    body_share: float  # median body height / frame height
    best_frame: int  # source frame of the clearest view (for a thumbnail)
    box: list[float]  # normalised [x0, y0, x1, y1] around them in `best_frame`
    refusal: str | None  # why this is not a walk (None: a walk)
    chosen: bool = False

    def to_dict(self) -> dict:
        out = asdict(self)
        out["walks"] = self.refusal is None
        return out


def describe_people(tracks: list[PersonTrack], frame_indices: np.ndarray, fps: float | None,
                    width: int, height: int) -> list[Person]:
    """Every track as a `Person`, with its walking features measured on its own landmarks."""
    frame_indices = np.asarray(frame_indices)
    n = len(frame_indices)
    out = []
    for t in tracks:
        feats = walk_features(t.landmarks(n), fps=fps or None, aspect=width / height)
        rows = np.array(t.rows)
        bodies = np.array([np.ptp(p[:, 1]) for p in t.poses])
        clarity = bodies * np.array([float(np.nanmean(p[:, 3])) for p in t.poses])
        best = int(np.nanargmax(clarity)) if np.isfinite(clarity).any() else 0
        box = pose_box(t.poses[best])
        span = (rows[-1] - rows[0] + 1) / fps if fps else float(len(rows))
        out.append(Person(
            id=t.id, frames=len(rows), first_frame=int(frame_indices[rows[0]]),
            last_frame=int(frame_indices[rows[-1]]), seconds=round(float(span), 2),
            travel_heights=round(float(feats.progress_heights), 2),
            walking_score=round(float(walking_score(feats)), 3),
            body_share=round(float(np.median(bodies)), 3), best_frame=int(frame_indices[rows[best]]),
            box=[round(float(v), 4) for v in box], refusal=walk_refusal(feats)))
    return out


def choose_walker(people: list[Person]) -> int | None:
    """The id of the person to analyse: the highest walking score among those who walk and are
    large enough to read (`MIN_BODY_SHARE`), else among those who walk, else among everyone (so
    a refusal can name who was looked at); None when nobody was found."""
    walkers = [p for p in people if p.refusal is None]
    readable = [p for p in walkers if p.body_share >= MIN_BODY_SHARE]
    pool = readable or walkers or people
    return max(pool, key=lambda p: (p.walking_score, p.frames)).id if pool else None


def no_walk_reason(people: list[Person], chosen: int | None) -> str | None:
    """Why the chosen person gives no gait class (a sentence starting with
    `walking.REFUSAL_PREFIX`), or None when they walk."""
    person = next((p for p in people if p.id == chosen), None)
    if person is None or person.refusal is None:
        return None
    if len(people) > 1 and all(p.refusal is not None for p in people):
        found = person.refusal.removeprefix(REFUSAL_PREFIX)
        return (f"{REFUSAL_PREFIX}{len(people)} people in view and none of them walks; the one most "
                f"like a walker (person {person.id}): {found}")
    return person.refusal


def people_table(people: list[Person], name: str) -> str:
    """The people found in video `name` as a plain-text table (`gaitlab people`)."""
    if not people:
        return f"{name}: nobody found"
    lines = [f"{name}: {len(people)} {'person' if len(people) == 1 else 'people'} found",
             f"  {'id':>3} {'frames':>6} {'seconds':>7} {'travel':>7} {'walking':>7}  chosen  what"]
    for p in people:
        what = "walks" if p.refusal is None else p.refusal.removeprefix(REFUSAL_PREFIX)
        lines.append(f"  {p.id:>3} {p.frames:>6} {p.seconds:>7.1f} {p.travel_heights:>7.2f} "
                     f"{p.walking_score:>7.2f}  {'  *   ' if p.chosen else '      '}  {what}")
    lines.append("travel: body heights across the frame or towards / away from the camera; walking: "
                 "score 0-1. Analyse another person with --person ID.")
    return "\n".join(lines)


__all__ = ["Person", "PersonTrack", "TrackLinker", "body_geometry", "choose_walker", "describe_people",
           "no_walk_reason", "people_table"]
