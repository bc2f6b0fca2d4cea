"""Drawing for the synthetic data set: one scene, one temporal event, NumPy only.

A scene is a background colour, a few static distractors (1-3 dark circles
with a light rim, which the count questions ask about, and 1-2 muted bars) and
one event object of a palette colour that changes over the clip:

  size_change  a large square grows from tiny to filling most of the frame
  appearance   a large disc ("ball") is absent in the first half, present in the second
  loading      boxes are added one by one onto a truck while a man stands beside it

`render(scene, num_frames, rng)` always draws the event forwards (growing,
appearing, loading); the reverse is the same frames in reverse order. Events
change the global content of the frame a lot (large, checkered areas),
because frame features pooled over space keep little of where things are.
"""

import dataclasses

import numpy as np

PALETTE = {
    "red": (220, 40, 40),
    "green": (40, 180, 60),
    "blue": (40, 80, 220),
    "yellow": (235, 215, 40),
    "white": (240, 240, 240),
}
EVENT_KINDS = ("size_change", "appearance", "loading")
EVENT_OBJECTS = {"size_change": "square", "appearance": "ball", "loading": "truck"}
# (answer when drawn forwards, answer when reversed)
EVENT_ANSWERS = {
    "size_change": ("growing", "shrinking"),
    "appearance": ("appearing", "disappearing"),
    "loading": ("loading", "unloading"),
}
MAX_CIRCLES = 3
BOX_COLOR = (150, 95, 45)
CIRCLE_COLOR = (25, 25, 25)
CIRCLE_RIM_COLOR = (215, 215, 215)
WHEEL_COLOR = (85, 85, 85)
CHECKER_DARK = (30, 30, 30)
# Event objects are checkerboards of their colour and dark: a random CNN's pooled
# features respond to that texture much the same whatever the colour, which makes
# "how much of the object is there" easy to read (LSTM on order questions, random
# InceptionV3 at 96 px: ~86% held-out accuracy with plain fills, 99% with checkers).
CHECKER_CELL_FRACTION = 0.133  # Of the frame height: 16 px cells at 120 px.
NOISE_STDDEV = 2.5


@dataclasses.dataclass
class Scene:
    """Everything needed to draw one clip; positions in pixels."""

    kind: str
    color_name: str
    width: int
    height: int
    background: tuple
    bars: list        # (x0, y0, x1, y1, rgb)
    circles: list     # (cx, cy, radius)
    event: dict       # kind-specific geometry
    mirror: bool


def _paint(region, mask, color, ys, xs, checker):
    """Fill `mask` of `region` with `color`, or a checkerboard of `color` and dark if `checker` > 0."""
    if checker:
        dark = ((ys // checker + xs // checker) % 2).astype(bool)
        region[mask & ~dark] = color
        region[mask & dark] = CHECKER_DARK
    else:
        region[mask] = color


def fill_rect(frame, x0, y0, x1, y1, color, checker=0):
    """Paint [x0, x1) x [y0, y1), clipped to the frame."""
    height, width = frame.shape[:2]
    x0, x1 = max(int(round(x0)), 0), min(int(round(x1)), width)
    y0, y1 = max(int(round(y0)), 0), min(int(round(y1)), height)
    if x0 < x1 and y0 < y1:
        if checker:
            ys, xs = np.ogrid[y0:y1, x0:x1]
            _paint(frame[y0:y1, x0:x1], np.ones((y1 - y0, x1 - x0), bool), color, ys, xs, checker)
        else:
            frame[y0:y1, x0:x1] = color


def fill_disc(frame, cx, cy, radius, color, checker=0):
    """Paint the pixels whose centres lie within `radius` of (cx, cy)."""
    height, width = frame.shape[:2]
    x0, x1 = max(int(cx - radius), 0), min(int(cx + radius) + 2, width)
    y0, y1 = max(int(cy - radius), 0), min(int(cy + radius) + 2, height)
    if x0 >= x1 or y0 >= y1:
        return
    ys, xs = np.ogrid[y0:y1, x0:x1]
    mask = (xs + 0.5 - cx) ** 2 + (ys + 0.5 - cy) ** 2 <= radius ** 2
    _paint(frame[y0:y1, x0:x1], mask, color, ys, xs, checker)


def _place_circles(rng, count, width, height):
    radius = 0.11 * height
    circles = []
    for _ in range(10000):  # Rejection sampling: circles never touch one another.
        if len(circles) == count:
            return circles
        cx = rng.uniform(radius + 2, width - radius - 2)
        cy = rng.uniform(radius + 2, height - radius - 2)
        if all((cx - x) ** 2 + (cy - y) ** 2 > (2.6 * radius) ** 2 for x, y, _ in circles):
            circles.append((cx, cy, radius))
    raise ValueError(f"cannot place {count} separate circles in a {width}x{height} frame")


def _truck_geometry(rng, width, height):
    shift = rng.uniform(-0.03, 0.03) * width
    bed_x0, bed_x1 = 0.22 * width + shift, 0.72 * width + shift
    bed_top, chassis_bottom = 0.60 * height, 0.72 * height
    box_width, box_height = (bed_x1 - bed_x0) / 3, 0.18 * height
    boxes = [(bed_x0 + col * box_width + 1, bed_top - (row + 1) * box_height + 1,
              bed_x0 + (col + 1) * box_width - 1, bed_top - row * box_height - 1)
             for row in range(2) for col in range(3)]
    return {
        "bed": (bed_x0, bed_top, bed_x1, chassis_bottom),
        "cab": (bed_x1 + 1, 0.36 * height, 0.93 * width + shift, chassis_bottom),
        "window": (bed_x1 + 0.05 * width, 0.41 * height, 0.89 * width + shift, 0.52 * height),
        "wheels": [(x, chassis_bottom + 0.06 * height, 0.075 * height)
                   for x in (bed_x0 + 0.1 * width, bed_x1 - 0.05 * width, 0.86 * width + shift)],
        "boxes": boxes,
        "man_x": 0.10 * width + shift,
    }


def draw_backdrop(rng, width, height):
    """A random grey background and 1-2 bars of a nearby colour: (rgb, [(x0, y0, x1, y1, rgb)])."""
    gray = rng.integers(70, 150)
    background = tuple(int(v) for v in np.clip(gray + rng.integers(-20, 21, 3), 0, 255))
    bars = []
    for _ in range(rng.integers(1, 3)):
        bar_w, bar_h = rng.uniform(0.05, 0.12) * width, rng.uniform(0.04, 0.08) * height
        x0, y0 = rng.uniform(0, width - bar_w), rng.uniform(0, height - bar_h)
        rgb = tuple(int(v) for v in np.clip(np.array(background) + rng.integers(-60, 61, 3), 0, 255))
        bars.append((x0, y0, x0 + bar_w, y0 + bar_h, rgb))
    return background, bars


def make_scene(rng, kind, width, height):
    """A random scene for event `kind`, drawn from `rng` (np.random.Generator)."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown event kind {kind!r}; expected one of {EVENT_KINDS}")
    color_name = list(PALETTE)[rng.integers(len(PALETTE))]
    background, bars = draw_backdrop(rng, width, height)
    circles = _place_circles(rng, int(rng.integers(1, MAX_CIRCLES + 1)), width, height)
    if kind == "size_change":
        event = {"cx": width / 2 + rng.uniform(-0.05, 0.05) * width,
                 "cy": height / 2 + rng.uniform(-0.04, 0.04) * height,
                 "min_side": 0.08 * height, "max_side": rng.uniform(0.88, 0.96) * height}
    elif kind == "appearance":
        event = {"cx": width / 2 + rng.uniform(-0.12, 0.12) * width,
                 "cy": height / 2 + rng.uniform(-0.05, 0.05) * height,
                 "radius": rng.uniform(0.36, 0.42) * height}
    else:
        event = _truck_geometry(rng, width, height)
    return Scene(kind=kind, color_name=color_name, width=width, height=height,
                 background=background, bars=bars, circles=circles, event=event,
                 mirror=bool(rng.integers(2)))


def _draw_event(frame, scene, progress):
    color, event = PALETTE[scene.color_name], scene.event
    checker = max(2, int(round(CHECKER_CELL_FRACTION * scene.height)))
    if scene.kind == "size_change":
        half = (event["min_side"] + (event["max_side"] - event["min_side"]) * progress) / 2
        fill_rect(frame, event["cx"] - half, event["cy"] - half,
                  event["cx"] + half, event["cy"] + half, color, checker)
    elif scene.kind == "appearance":
        if progress >= 0.5:
            fill_disc(frame, event["cx"], event["cy"], event["radius"], color, checker)
    else:
        _draw_truck(frame, scene, event, color, progress, checker)


def _draw_truck(frame, scene, event, color, progress, checker):
    height = scene.height
    fill_rect(frame, *event["bed"], color)
    fill_rect(frame, *event["cab"], color)
    fill_rect(frame, *event["window"], (200, 230, 250))
    for cx, cy, radius in event["wheels"]:  # Grey with a hub: not the black count circles.
        fill_disc(frame, cx, cy, radius, WHEEL_COLOR)
        fill_disc(frame, cx, cy, 0.4 * radius, (200, 200, 200))
    boxes = event["boxes"]
    loaded = min(len(boxes), int(progress * (len(boxes) + 1)))
    for box in boxes[:loaded]:
        fill_rect(frame, *box, BOX_COLOR, checker)
    man_x = event["man_x"]  # A plain standing figure: head, body, legs.
    fill_disc(frame, man_x, 0.38 * height, 0.055 * height, (230, 190, 150))
    fill_rect(frame, man_x - 0.035 * height, 0.44 * height, man_x + 0.035 * height, 0.66 * height, (60, 60, 110))
    fill_rect(frame, man_x - 0.035 * height, 0.66 * height, man_x - 0.005 * height, 0.85 * height, (40, 40, 40))
    fill_rect(frame, man_x + 0.005 * height, 0.66 * height, man_x + 0.035 * height, 0.85 * height, (40, 40, 40))


def render(scene, num_frames, rng):
    """uint8 [num_frames, height, width, 3]: the event drawn forwards, with mild noise from `rng`."""
    base = np.empty((scene.height, scene.width, 3), np.uint8)
    base[:] = scene.background
    for x0, y0, x1, y1, rgb in scene.bars:
        fill_rect(base, x0, y0, x1, y1, rgb)
    frames = np.empty((num_frames, scene.height, scene.width, 3), np.uint8)
    for index in range(num_frames):
        frame = frames[index]
        frame[:] = base
        _draw_event(frame, scene, index / max(num_frames - 1, 1))
        for cx, cy, radius in scene.circles:  # On top of everything: always countable.
            fill_disc(frame, cx, cy, radius, CIRCLE_RIM_COLOR)
            fill_disc(frame, cx, cy, radius * 0.6, CIRCLE_COLOR)
    if scene.mirror:
        frames = frames[:, :, ::-1]
    noise = rng.standard_normal(frames.shape, dtype=np.float32) * NOISE_STDDEV
    return np.clip(frames + noise, 0, 255).round().astype(np.uint8)
