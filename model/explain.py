"""Pictures of where a question looked: the sampled frames with the weight each question gave them.

  draw_frame_weights(frames, rows, path, ...)   the PNG: per question, a title (question and
                                                answer), the frames as a strip of thumbnails and
                                                under each thumbnail a bar of its weight with the
                                                number; returns a `Drawing` (what was drawn)
  explain_answers(decoded, answers, path, ...)  the same for `model.answering.Answer`s about one
                                                decoded clip (what `model.predict --explain` calls)

Weights come from models whose video encoder weighs frames (`--video_encoder
attention`, or the class-token attention of `transformer`). matplotlib is
imported when drawing, with the Agg backend (no display needed).
"""

import dataclasses
import math
import typing

import numpy as np

DPI = 100
# Layout in inches.
MAX_STRIP_WIDTH = 18.0      # the thumbnails of one question shrink to fit this
MAX_THUMBNAIL_WIDTH = 1.3
MIN_THUMBNAIL_WIDTH = 0.45
LEFT_MARGIN, RIGHT_MARGIN = 0.6, 0.3
FIGURE_TITLE_HEIGHT = 0.5
ROW_TITLE_HEIGHT = 0.45
BAR_HEIGHT = 1.0
LABEL_HEIGHT = 0.35          # frame times under the bars
ROW_GAP = 0.25
THUMBNAIL_GAP = 0.06         # fraction of a thumbnail's width left blank on each side
HIGHLIGHT_COLOR = "#c44e52"
BAR_COLOR = "#4c72b0"


@dataclasses.dataclass(frozen=True)
class ExplainedQuestion:
    """One row of the picture: the question, the answer shown, one weight per frame."""

    question: str
    answer: str
    frame_weights: typing.Sequence[float]


@dataclasses.dataclass(frozen=True)
class Drawing:
    """What `draw_frame_weights` wrote: sizes in pixels, and the bar heights read back from the figure."""

    path: str
    width_pixels: int
    height_pixels: int
    num_frames: int
    num_rows: int
    thumbnail_panels: int
    bar_panels: int
    drawn_weights: typing.List[typing.List[float]]


def _pyplot():
    import matplotlib  # Imported here: choosing the backend is a side effect.
    matplotlib.use("Agg")
    from matplotlib import pyplot
    return pyplot


def _check_inputs(frames, rows):
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or not len(frames):
        raise ValueError(f"frames must be uint8 [T>0, H, W, 3], got {frames.dtype} {frames.shape}")
    if not rows:
        raise ValueError("nothing to draw: give at least one question with its frame weights")
    for index, row in enumerate(rows):
        weights = np.asarray(row.frame_weights, np.float64)
        if weights.shape != (len(frames),):
            raise ValueError(f"question {index + 1} ({row.question!r}) has {weights.size} frame weights "
                             f"for {len(frames)} frames")
        if not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise ValueError(f"question {index + 1} ({row.question!r}) has negative or non-finite frame weights")
    return frames


def _layout(num_frames, num_rows, aspect_ratio):
    """(thumbnail width, thumbnail height, row height, figure width, figure height) in inches."""
    thumbnail_width = min(MAX_THUMBNAIL_WIDTH, max(MIN_THUMBNAIL_WIDTH, MAX_STRIP_WIDTH / num_frames))
    thumbnail_height = thumbnail_width / aspect_ratio
    row_height = ROW_TITLE_HEIGHT + thumbnail_height + BAR_HEIGHT + LABEL_HEIGHT + ROW_GAP
    figure_width = LEFT_MARGIN + num_frames * thumbnail_width + RIGHT_MARGIN
    figure_height = FIGURE_TITLE_HEIGHT + num_rows * row_height
    return thumbnail_width, thumbnail_height, row_height, figure_width, figure_height


def draw_frame_weights(frames, rows, path, title="", aspect_ratio=None, frame_labels=None, dpi=DPI):
    """Write the PNG at `path` and return a `Drawing`.

    frames: uint8 [T, H, W, 3] (the sampled frames); rows: `ExplainedQuestion`s
    with T weights each; aspect_ratio: width / height to show the thumbnails
    at (default: the frames' own, e.g. pass the clip's when the frames were
    resized to squares); frame_labels: T strings under the bars (default:
    "#1".."#T"). The frame with the largest weight of each row is framed in
    red; a dashed line marks the uniform weight 1 / T.
    """
    frames = _check_inputs(frames, rows)
    num_frames, num_rows = len(frames), len(rows)
    aspect_ratio = aspect_ratio or frames.shape[2] / frames.shape[1]
    labels = list(frame_labels) if frame_labels is not None else [f"#{index + 1}" for index in range(num_frames)]
    if len(labels) != num_frames:
        raise ValueError(f"{len(labels)} frame labels for {num_frames} frames")
    thumbnail_width, thumbnail_height, row_height, figure_width, figure_height = _layout(
        num_frames, num_rows, aspect_ratio)
    pyplot = _pyplot()
    figure = pyplot.figure(figsize=(figure_width, figure_height), dpi=dpi)

    def box(left, top, width, height):  # Inches from the top-left corner -> figure fractions.
        return [left / figure_width, 1 - (top + height) / figure_height, width / figure_width, height / figure_height]

    if title:
        figure.text(0.5, 1 - 0.5 * FIGURE_TITLE_HEIGHT / figure_height, title, ha="center", va="center",
                    fontsize=12, weight="bold")
    drawn, thumbnail_panels, bar_panels = [], 0, 0
    gap = THUMBNAIL_GAP * thumbnail_width
    for row_index, row in enumerate(rows):
        weights = np.asarray(row.frame_weights, np.float64)
        top = FIGURE_TITLE_HEIGHT + row_index * row_height
        figure.text(LEFT_MARGIN / figure_width, 1 - (top + 0.5 * ROW_TITLE_HEIGHT) / figure_height,
                    f"Q: {row.question}    A: {row.answer}", ha="left", va="center", fontsize=11)
        strongest = int(np.argmax(weights))
        for frame_index, frame in enumerate(frames):
            axes = figure.add_axes(box(LEFT_MARGIN + frame_index * thumbnail_width + gap, top + ROW_TITLE_HEIGHT,
                                       thumbnail_width - 2 * gap, thumbnail_height))
            axes.imshow(frame, aspect="auto", interpolation="bilinear")
            axes.set_xticks([])
            axes.set_yticks([])
            for spine in axes.spines.values():
                spine.set_visible(frame_index == strongest)
                spine.set_color(HIGHLIGHT_COLOR)
                spine.set_linewidth(3)
            thumbnail_panels += 1
        bars_axes = figure.add_axes(box(LEFT_MARGIN, top + ROW_TITLE_HEIGHT + thumbnail_height,
                                        num_frames * thumbnail_width, BAR_HEIGHT))
        bar_panels += 1
        positions = np.arange(num_frames) + 0.5  # Thumbnail i spans [i, i + 1] on this axis.
        colors = [HIGHLIGHT_COLOR if index == strongest else BAR_COLOR for index in range(num_frames)]
        bars = bars_axes.bar(positions, weights, width=1 - 2 * THUMBNAIL_GAP, color=colors)
        bars_axes.set_xlim(0, num_frames)
        top_weight = float(weights.max()) if weights.max() > 0 else 1.0
        bars_axes.set_ylim(0, top_weight * 1.35)
        bars_axes.axhline(1.0 / num_frames, color="gray", linestyle="--", linewidth=0.8)
        for position, weight in zip(positions, weights):
            bars_axes.text(position, weight, f"{weight:.2f}", ha="center", va="bottom",
                           fontsize=8 if thumbnail_width >= 0.8 else 6)
        bars_axes.set_xticks(positions)
        bars_axes.set_xticklabels(labels, fontsize=8 if thumbnail_width >= 0.8 else 6)
        bars_axes.set_yticks([])
        for side in ("top", "right", "left"):
            bars_axes.spines[side].set_visible(False)
        drawn.append([float(bar.get_height()) for bar in bars])
    figure.savefig(path, dpi=dpi)
    width_pixels, height_pixels = figure.canvas.get_width_height()
    pyplot.close(figure)
    return Drawing(path=path, width_pixels=int(width_pixels), height_pixels=int(height_pixels),
                   num_frames=num_frames, num_rows=num_rows,
                   thumbnail_panels=thumbnail_panels, bar_panels=bar_panels, drawn_weights=drawn)


def answer_text(answer):
    """The answer shown in a row's title: the count, or the best answer with its probability."""
    if answer.count is not None:
        return f"{answer.count:.2f} (rounded: {answer.ranked[0][0]})" if answer.ranked else f"{answer.count:.2f}"
    text, probability = answer.ranked[0]
    return f"{text} ({probability:.0%})"


def explain_answers(decoded, answers, path, video_name="", video_encoder=None):
    """draw_frame_weights for `model.answering.Answer`s about one `DecodedVideo`.

    ValueError when the answers carry no frame weights (the model's video
    encoder does not weigh frames).
    """
    missing = [answer.question for answer in answers if answer.frame_weights is None]
    if missing:
        encoder = f"--video_encoder {video_encoder}" if video_encoder else "its video encoder"
        raise ValueError(f"--explain needs frame weights, and this model ({encoder}) gives none: "
                         f"train with --video_encoder attention or transformer to see which frames a "
                         f"question looked at")
    rows = [ExplainedQuestion(answer.question, answer_text(answer), answer.frame_weights) for answer in answers]
    times = [f"{time:.1f}s" for time in decoded.frame_times]
    seconds = f"{decoded.duration:.1f} s" if math.isfinite(decoded.duration) else "unknown length"
    title = f"{video_name}: {decoded.num_frames} frames sampled of {decoded.total_frames} ({seconds})"
    aspect_ratio = decoded.width / decoded.height if decoded.width and decoded.height else None
    return draw_frame_weights(decoded.frames, rows, path, title=title.lstrip(": "), aspect_ratio=aspect_ratio,
                              frame_labels=times)
