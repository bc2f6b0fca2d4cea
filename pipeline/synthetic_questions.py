"""What a synthetic clip shows, and the questions every benchmark layout asks about it.

`ClipFacts` is what one clip shows: its event (see `synthetic_scenes`), the
direction it is seen in, the event object's colour and the number of circles.
A reversal twin has the same facts with `forwards` flipped.

Two groups of questions (`ORDER_GROUP`, `SINGLE_FRAME_GROUP`):
  order         the answer depends on the direction: "what is happening to the square?"
                (growing / shrinking), "how many boxes are on the truck at the end?" (6 / 0). A model that ignores frame order is at chance on these.
  single frame  any frame answers it: the colour of the event object, the number of circles.

`PairChoices` are the random choices shared by both twins of a pair: the
phrasing and, for multiple choice, the candidates in a fixed order, which always
hold both directions of the event (so the twin's correct candidate is there
too) and put the correct one at varying positions.

Questions are stored lower-case without the final "?": each layout adds the
punctuation its benchmark uses. How2QA's files carry no question type, so the
pipeline types its questions by their first word (`features.text.question_type`):
order questions start with "what", single-frame ones with "how".
"""

import dataclasses

from pipeline import synthetic_scenes as scenes

ORDER_GROUP = "order"
SINGLE_FRAME_GROUP = "single_frame"

NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five")
COLOR_NAMES = tuple(scenes.PALETTE)
# Every order answer: (forwards, reversed) of each event kind.
ORDER_ANSWERS = tuple(answer for answers in scenes.EVENT_ANSWERS.values() for answer in answers)

ORDER_QUESTIONS = ("what is happening to the {object}", "what happens to the {object} in the video",
                   "what is going on with the {object}")
# Counts that need the order: (question, answer forwards, answer reversed); None: the scene's boxes.
ORDER_COUNT_QUESTIONS = {
    "size_change": ("how many times does the square grow", 1, 0),
    "appearance": ("how many balls are there at the end", 1, 0),
    "loading": ("how many boxes are on the truck at the end", None, 0),
}
CIRCLES_QUESTION = "how many circles are there"
COLOR_QUESTION = "what color is the {object}"
COLOR_CHOICE_QUESTION = "which color is the {object}"


@dataclasses.dataclass(frozen=True)
class ClipFacts:
    """What one clip shows."""

    kind: str            # synthetic_scenes.EVENT_KINDS
    forwards: bool       # the event as drawn (growing, appearing, loading), else reversed
    color_name: str      # of the event object
    num_circles: int
    num_boxes: int       # loading: boxes on the full truck (0 for other kinds)

    @classmethod
    def of(cls, scene, forwards):
        boxes = len(scene.event["boxes"]) if scene.kind == "loading" else 0
        return cls(kind=scene.kind, forwards=bool(forwards), color_name=scene.color_name,
                   num_circles=len(scene.circles), num_boxes=boxes)

    def reversed(self):
        return dataclasses.replace(self, forwards=not self.forwards)

    @property
    def object_name(self):
        return scenes.EVENT_OBJECTS[self.kind]

    @property
    def order_answer(self):
        """'growing' or 'shrinking', 'appearing' or 'disappearing', 'loading' or 'unloading'."""
        return scenes.EVENT_ANSWERS[self.kind][0 if self.forwards else 1]

    @property
    def order_count_question(self):
        return ORDER_COUNT_QUESTIONS[self.kind][0]

    @property
    def order_count(self):
        _, forwards, backwards = ORDER_COUNT_QUESTIONS[self.kind]
        if forwards is None:
            forwards = self.num_boxes
        return forwards if self.forwards else backwards

    @property
    def circles_word(self):
        return NUMBER_WORDS[self.num_circles]

    def description(self):
        """A TGIF-style caption: 'a red square is growing next to two circles .'"""
        return (f"a {self.color_name} {self.object_name} is {self.order_answer} "
                f"next to {self.circles_word} circle{'s' if self.num_circles != 1 else ''} .")


@dataclasses.dataclass(frozen=True)
class PairChoices:
    """Random choices shared by both twins of a pair."""

    phrasing: int                 # index into ORDER_QUESTIONS
    variant: int                  # a second free choice (e.g. NExT-QA's temporal type)
    order_candidates: tuple       # both directions of the event kind + other event answers
    color_candidates: tuple       # palette colour names, the object's among them
    number_candidates: tuple      # number words, the circle count among them

    def order_question(self, facts):
        return ORDER_QUESTIONS[self.phrasing].format(object=facts.object_name)


def _candidates(rng, required, pool, size):
    """`required` plus others of `pool`, `size` in all, in a random order."""
    others = [item for item in pool if item not in required]
    if size < len(required) or size > len(required) + len(others):
        raise ValueError(f"cannot make {size} candidates from {len(pool)} answers")
    chosen = list(required) + [others[index] for index in
                               sorted(rng.choice(len(others), size - len(required), replace=False))]
    return tuple(chosen[index] for index in rng.permutation(size))


def choose(rng, facts, num_candidates):
    """PairChoices for a pair whose first twin shows `facts`, drawn from `rng`."""
    return PairChoices(
        phrasing=int(rng.integers(len(ORDER_QUESTIONS))),
        variant=int(rng.integers(1 << 30)),
        order_candidates=_candidates(rng, scenes.EVENT_ANSWERS[facts.kind], ORDER_ANSWERS, num_candidates),
        color_candidates=_candidates(rng, (facts.color_name,), COLOR_NAMES, num_candidates),
        number_candidates=_candidates(rng, (facts.circles_word,), NUMBER_WORDS, num_candidates),
    )


@dataclasses.dataclass(frozen=True)
class ChoiceQuestion:
    """A multiple-choice question: its text, candidates in order and the correct index."""

    question: str
    candidates: tuple
    answer_index: int

    @property
    def answer(self):
        return self.candidates[self.answer_index]

    @property
    def wrong_answers(self):
        return tuple(candidate for index, candidate in enumerate(self.candidates) if index != self.answer_index)


def choice_questions(facts, choices):
    """The multiple-choice questions of a clip: {"order" (order group), "circles", "color" (single frame)}."""
    return {
        "order": ChoiceQuestion(choices.order_question(facts), choices.order_candidates,
                                choices.order_candidates.index(facts.order_answer)),
        "circles": ChoiceQuestion(CIRCLES_QUESTION, choices.number_candidates,
                                  choices.number_candidates.index(facts.circles_word)),
        "color": ChoiceQuestion(COLOR_CHOICE_QUESTION.format(object=facts.object_name), choices.color_candidates,
                                choices.color_candidates.index(facts.color_name)),
    }
