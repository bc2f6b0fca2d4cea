"""Drawing for the harder synthetic kinds: a stage and five actors that come and go, NumPy only.

A clip of a harder kind (`synthetic_kinds`) is a sequence of frames, each
showing at most one actor on a static stage (background and 1-2 muted bars).
The actors differ in shape, colour and texture, so that even the pooled
features of a CNN with random weights tell them apart (nearest-centroid
accuracy 99% at 96x72, random InceptionV3 at 75 px):

  ball   a red checkered disc          box    a blue checkered square
  flag   a green striped rectangle     gate   a white rectangle with vertical stripes
  sun    a plain yellow disc

`FrameSpec(actor, scale)` is what one frame shows (actor None: the empty
stage; scale 0..1 of the actor's full size, for growing and shrinking).
`render_specs(stage, specs, rng)` draws them with mild noise. The kinds build
a pair's two twins from the same rendered frames in two orders, so both twins
hold exactly the same frames and a model that averages frames sees the same
input for both.
"""

import dataclasses

import numpy as np

from pipeline import synthetic_scenes as scenes

ACTORS = ("ball", "box", "flag", "gate", "sun")
ACTOR_COLORS = {"ball": scenes.PALETTE["red"], "box": scenes.PALETTE["blue"], "flag": scenes.PALETTE["green"],
                "gate": scenes.PALETTE["white"], "sun": scenes.PALETTE["yellow"]}
FULL_SIZE_FRACTION = 0.40  # An actor's half-size at scale 1, of the frame height.
SMALLEST_SCALE = 0.25      # Where growing starts and shrinking ends.
STRIPE_FRACTION = 0.055    # Stripe width of flag and gate, of the frame height (4 px at 72 px).


@dataclasses.dataclass(frozen=True)
class FrameSpec:
    """What one frame shows: an actor (None for the empty stage) at a scale of its full size."""

    actor: object = None
    scale: float = 1.0


@dataclasses.dataclass(frozen=True)
class Stage:
    """The static part of a clip and where its actors stand; sizes in pixels."""

    width: int
    height: int
    background: tuple
    bars: tuple      # (x0, y0, x1, y1, rgb)
    centre: tuple    # (cx, cy) of every actor


def make_stage(rng, width, height):
    """A random grey stage with 1-2 bars and the actors' centre, drawn from `rng`."""
    background, bars = scenes.draw_backdrop(rng, width, height)
    centre = (width / 2 + rng.uniform(-0.06, 0.06) * width, height / 2 + rng.uniform(-0.05, 0.05) * height)
    return Stage(width=width, height=height, background=background, bars=tuple(bars), centre=centre)


def _stripes(frame, x0, y0, x1, y1, color, stripe, vertical):
    """Alternate `color` and dark stripes over [x0, x1) x [y0, y1), clipped to the frame."""
    height, width = frame.shape[:2]
    x0, x1 = max(int(round(x0)), 0), min(int(round(x1)), width)
    y0, y1 = max(int(round(y0)), 0), min(int(round(y1)), height)
    if x0 >= x1 or y0 >= y1:
        return
    ys, xs = np.ogrid[y0:y1, x0:x1]
    light = ((xs if vertical else ys) // stripe % 2 == 0) & np.ones((y1 - y0, x1 - x0), bool)
    region = frame[y0:y1, x0:x1]
    region[light] = color
    region[~light] = scenes.CHECKER_DARK


def draw_actor(frame, stage, actor, scale):
    """Paint `actor` at `scale` of its full size, centred on the stage's actor centre."""
    if actor not in ACTOR_COLORS:
        raise ValueError(f"unknown actor {actor!r}; expected one of {ACTORS}")
    cx, cy = stage.centre
    half = FULL_SIZE_FRACTION * stage.height * scale
    checker = max(2, int(round(scenes.CHECKER_CELL_FRACTION * stage.height)))
    stripe = max(2, int(round(STRIPE_FRACTION * stage.height)))
    color = ACTOR_COLORS[actor]
    if actor == "ball":
        scenes.fill_disc(frame, cx, cy, half, color, checker)
    elif actor == "box":
        scenes.fill_rect(frame, cx - half, cy - half, cx + half, cy + half, color, checker)
    elif actor == "flag":
        _stripes(frame, cx - 1.3 * half, cy - 0.8 * half, cx + 1.3 * half, cy + 0.8 * half, color, stripe, False)
    elif actor == "gate":
        _stripes(frame, cx - 0.9 * half, cy - 1.1 * half, cx + 0.9 * half, cy + 1.1 * half, color, stripe, True)
    else:
        scenes.fill_disc(frame, cx, cy, half, color)


def render_specs(stage, specs, rng):
    """uint8 [len(specs), height, width, 3]: the stage with each frame's actor, plus noise from `rng`."""
    base = np.empty((stage.height, stage.width, 3), np.uint8)
    base[:] = stage.background
    for x0, y0, x1, y1, rgb in stage.bars:
        scenes.fill_rect(base, x0, y0, x1, y1, rgb)
    frames = np.empty((len(specs), stage.height, stage.width, 3), np.uint8)
    for index, spec in enumerate(specs):
        frames[index] = base
        if spec.actor is not None:
            draw_actor(frames[index], stage, spec.actor, spec.scale)
    noise = rng.standard_normal(frames.shape, dtype=np.float32) * scenes.NOISE_STDDEV
    return np.clip(frames + noise, 0, 255).round().astype(np.uint8)


def growing(actor, num_frames):
    """FrameSpecs of `actor` growing from SMALLEST_SCALE to full size over `num_frames` frames."""
    return [FrameSpec(actor, SMALLEST_SCALE + (1 - SMALLEST_SCALE) * index / max(num_frames - 1, 1))
            for index in range(num_frames)]
