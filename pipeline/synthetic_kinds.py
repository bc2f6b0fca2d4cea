"""The harder synthetic kinds: clips whose answers hang on the order and timing of several events.

Each kind designs one twin pair at a time (`PairDesign`): the frames of the
first twin (as `synthetic_actors.FrameSpec`s), the order in which the second
twin shows the same frames, and questions that both twins share but answer
differently. Both twins hold exactly the same frames, so a model that
averages frame features sees one input for two answers and stays at chance.

  long_early     48 frames. In the first 12 an actor grows (or shrinks); then 36 or more
                 frames of distractor actors coming, going, growing and shrinking.
                 "is the box growing or shrinking at the start?" Counterfactual twin:
                 the early event backwards in place, the rest unchanged.
  count_repeats  24 frames in 12 slots of 2: one actor in 4 slots that form 1-4 separate
                 appearances, 3 slots of distractor actors, 5 empty. "how many times does
                 the ball appear?" Counterfactual twin: the same slots rearranged into
                 another number of appearances.
  after_before   24 frames: four actors one after another, 6 frames each. "what appears
                 after the box?" and "... before the box?" about an inner one. Reversal twin.
  which_first    24 frames: two actors grow one after the other, 12 frames each. "which
                 comes first, the ball or the sun?" and "which comes last, ...?".
                 Counterfactual twin: the two events swapped, each still growing.

`KINDS` maps each name to its `Kind`: the published layout it is written in
(MSRVTT-QA for the open-ended kinds, the TGIF-QA Count file for counting),
its task, frames and frame rate. Every sampled frame is a frame of the clip
(`frames_per_video` = the clip's frames).
"""

import dataclasses

import numpy as np

from features import schema
from pipeline import synthetic_actors as actors
from pipeline.synthetic_actors import FrameSpec

TWIN_REVERSAL = "reversal"
TWIN_COUNTERFACTUAL = "counterfactual"
GROWING, SHRINKING = "growing", "shrinking"


@dataclasses.dataclass(frozen=True)
class KindQuestion:
    """A question both twins are asked (lower case, no '?') and each twin's answer."""

    question: str
    answers: tuple  # (first twin's, second twin's); str, or int for counts


@dataclasses.dataclass(frozen=True)
class PairDesign:
    """One twin pair: the first twin's frames, the second twin's order of them, the questions."""

    specs: tuple        # FrameSpec per frame of the first twin
    twin_order: tuple   # the second twin shows frames[twin_order]
    questions: tuple    # KindQuestion


def _other_actor(rng, excluded):
    choices = [actor for actor in actors.ACTORS if actor not in excluded]
    return choices[int(rng.integers(len(choices)))]


def _distractors(rng, num_frames, excluded):
    """`num_frames` FrameSpecs of short events of actors other than `excluded`, with gaps."""
    specs = []
    while len(specs) < num_frames:
        specs += [FrameSpec()] * int(rng.integers(1, 4))
        actor, length = _other_actor(rng, (excluded,)), int(rng.integers(4, 9))
        style = int(rng.integers(3))  # Appears, grows or shrinks.
        event = actors.growing(actor, length)
        specs += [FrameSpec(actor)] * length if style == 0 else event if style == 1 else event[::-1]
    return specs[:num_frames]


def design_long_early(rng, num_frames):
    """An early grow/shrink event, then a long tail of distractors; twin: the event backwards."""
    event_length, onset = num_frames // 6, int(rng.integers(0, num_frames // 12 + 1))
    actor = actors.ACTORS[int(rng.integers(len(actors.ACTORS)))]
    grows = bool(rng.integers(2))
    event = actors.growing(actor, event_length)
    specs = [FrameSpec()] * onset + (event if grows else event[::-1])
    specs += _distractors(rng, num_frames - len(specs), actor)
    order = list(range(num_frames))
    order[onset:onset + event_length] = order[onset:onset + event_length][::-1]
    phrasing = ("is the {actor} growing or shrinking at the start", "what does the {actor} do at the beginning",
                "how does the {actor} change first")[int(rng.integers(3))]
    answers = (GROWING, SHRINKING) if grows else (SHRINKING, GROWING)
    return PairDesign(tuple(specs), tuple(order), (KindQuestion(phrasing.format(actor=actor), answers),))


COUNTED_SLOTS, DISTRACTOR_SLOTS, FRAMES_PER_SLOT = 4, 3, 2
MAX_APPEARANCES = COUNTED_SLOTS


def _slot_arrangement(rng, appearances, other_slots):
    """Slot ids in order: counted slots 0..COUNTED_SLOTS-1 in `appearances` separate runs among `other_slots`."""
    cuts = sorted(rng.choice(np.arange(1, COUNTED_SLOTS), appearances - 1, replace=False).tolist())
    runs = [list(range(start, end)) for start, end in zip([0] + cuts, cuts + [COUNTED_SLOTS])]
    others = [int(slot) for slot in rng.permutation(other_slots)]
    gaps = sorted(rng.choice(len(others) + 1, appearances, replace=False).tolist())
    arrangement = []
    for position in range(len(others) + 1):
        if gaps and gaps[0] == position:
            arrangement += runs.pop(0)
            gaps.pop(0)
        if position < len(others):
            arrangement.append(others[position])
    return arrangement


def design_count_repeats(rng, num_frames):
    """An actor appearing 1-4 times among distractors; twin: the same slots, another count."""
    num_slots = num_frames // FRAMES_PER_SLOT
    if num_slots < COUNTED_SLOTS + DISTRACTOR_SLOTS + MAX_APPEARANCES - 1:
        raise ValueError(f"count_repeats needs at least {2 * (COUNTED_SLOTS + DISTRACTOR_SLOTS + 3)} frames, "
                         f"got {num_frames}")
    counted = actors.ACTORS[int(rng.integers(len(actors.ACTORS)))]
    slot_specs = [FrameSpec(counted)] * COUNTED_SLOTS
    slot_specs += [FrameSpec(_other_actor(rng, (counted,))) for _ in range(DISTRACTOR_SLOTS)]
    slot_specs += [FrameSpec()] * (num_slots - len(slot_specs))
    first_count = int(rng.integers(1, MAX_APPEARANCES + 1))
    second_count = int(rng.choice([count for count in range(1, MAX_APPEARANCES + 1) if count != first_count]))
    other_slots = list(range(COUNTED_SLOTS, num_slots))
    first, second = (_slot_arrangement(rng, count, other_slots) for count in (first_count, second_count))
    specs = [slot_specs[slot] for slot in first for _ in range(FRAMES_PER_SLOT)]
    position = {slot: index for index, slot in enumerate(first)}
    order = [position[slot] * FRAMES_PER_SLOT + offset for slot in second for offset in range(FRAMES_PER_SLOT)]
    question = KindQuestion(f"how many times does the {counted} appear", (first_count, second_count))
    return PairDesign(tuple(specs), tuple(order), (question,))


AFTER_BEFORE_ACTORS = 4


def design_after_before(rng, num_frames):
    """Four actors in turn; questions about the neighbours of an inner one; twin: the reversal."""
    cast = [str(actor) for actor in rng.permutation(actors.ACTORS)[:AFTER_BEFORE_ACTORS]]
    inner = int(rng.integers(1, AFTER_BEFORE_ACTORS - 1))
    bounds = np.linspace(0, num_frames, AFTER_BEFORE_ACTORS + 1).round().astype(int)
    specs = []
    for actor, start, end in zip(cast, bounds[:-1], bounds[1:]):
        specs += [FrameSpec(actor, float(rng.uniform(0.8, 1.0)))] * int(end - start)
    after, before = cast[inner + 1], cast[inner - 1]
    questions = (KindQuestion(f"what appears after the {cast[inner]}", (after, before)),
                 KindQuestion(f"what appears before the {cast[inner]}", (before, after)))
    return PairDesign(tuple(specs), tuple(range(num_frames - 1, -1, -1)), questions)


def design_which_first(rng, num_frames):
    """Two actors grow one after the other; twin: the two events swapped (each still grows)."""
    first, second = (str(actor) for actor in rng.permutation(actors.ACTORS)[:2])
    half = num_frames // 2
    specs = actors.growing(first, half) + actors.growing(second, num_frames - half)
    order = list(range(half, num_frames)) + list(range(half))
    named = (first, second) if rng.integers(2) else (second, first)
    questions = (KindQuestion("which comes first, the {} or the {}".format(*named), (first, second)),
                 KindQuestion("which comes last, the {} or the {}".format(*named), (second, first)))
    return PairDesign(tuple(specs), tuple(order), questions)


@dataclasses.dataclass(frozen=True)
class Kind:
    """A harder kind: how its pairs are designed, and the layout, task and timing it is written with."""

    name: str
    design: object      # (rng, num_frames) -> PairDesign
    layout: str         # "msrvtt_qa" or "tgif_qa"
    task: str           # features.schema.TASK_*
    num_frames: int
    fps: float          # tgif_qa: must divide 100 (GIF delays)
    twin: str           # TWIN_REVERSAL (the second twin is the first backwards) or TWIN_COUNTERFACTUAL


KINDS = {kind.name: kind for kind in (
    Kind("long_early", design_long_early, "msrvtt_qa", schema.TASK_OPEN_ENDED, 48, 16, TWIN_COUNTERFACTUAL),
    Kind("count_repeats", design_count_repeats, "tgif_qa", schema.TASK_COUNT, 24, 10, TWIN_COUNTERFACTUAL),
    Kind("after_before", design_after_before, "msrvtt_qa", schema.TASK_OPEN_ENDED, 24, 12, TWIN_REVERSAL),
    Kind("which_first", design_which_first, "msrvtt_qa", schema.TASK_OPEN_ENDED, 24, 12, TWIN_COUNTERFACTUAL),
)}


def parse_kinds(text):
    """'long_early,which_first' -> ('long_early', 'which_first'); ValueError naming the unknown ones."""
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in KINDS]
    if unknown or not names:
        raise ValueError(f"--kinds {text!r}: choose a comma-separated list of {', '.join(KINDS)}"
                         + (f" (unknown: {', '.join(unknown)})" if unknown else ""))
    if len(set(names)) != len(names):
        raise ValueError(f"--kinds {text!r} names a kind twice")
    return names
