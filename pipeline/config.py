"""The pipeline's command line and its typed configuration, built once in `run()`.

`build_argument_parser()` defines our flags (Beam's own go to
`PipelineOptions`); `PipelineConfig.from_args(args)` validates them and is
what every stage receives, so nothing below the entry point sees an argparse
namespace. `manifest_config(...)` is the part of the configuration that
determines the records: it is written to the manifest and fingerprinted.
"""

import argparse
import dataclasses
import typing

from features import backbones, cnn, quantize, schema
from features import sampling as sampling_lib
from features import manifest as manifest_lib
from pipeline import annotations

DEFAULT_INFERENCE_BATCH_SIZE = 32
DEFAULT_DECODE_THREADS = 1


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """Everything a pipeline run was asked to do."""

    annotations: str
    video_dir: str
    output_dir: str
    layout: str = annotations.DEFAULT_LAYOUT
    video_pattern: typing.Optional[str] = None
    video_mapping: typing.Optional[str] = None
    allow_links_outside: bool = False
    backbone: str = backbones.DEFAULT_BACKBONE
    cnn_weights: str = schema.DEFAULT_CNN_WEIGHTS
    image_size: int = 0                     # 0: the backbone's native size
    sampling: sampling_lib.SamplingConfig = sampling_lib.SamplingConfig()
    feature_dtype: str = schema.DEFAULT_FEATURE_DTYPE
    answer_top_k: int = schema.DEFAULT_ANSWER_TOP_K
    max_question_tokens: int = schema.DEFAULT_MAX_QUESTION_TOKENS
    inference_batch_size: int = DEFAULT_INFERENCE_BATCH_SIZE
    decode_threads: int = DEFAULT_DECODE_THREADS
    large_model: bool = False
    feature_cache: typing.Optional[str] = None
    overwrite: bool = False

    def __post_init__(self):
        backbone = backbones.get_backbone(self.backbone)
        object.__setattr__(self, "image_size", backbones.image_size_or_native(backbone, self.image_size))
        object.__setattr__(self, "output_dir", self.output_dir.rstrip("/") or "/")
        quantize.check_feature_dtype(self.feature_dtype)
        cnn.validate_cnn_config(self.backbone, self.cnn_weights, self.image_size)
        for name in ("answer_top_k", "max_question_tokens", "inference_batch_size"):
            if getattr(self, name) <= 0:
                raise ValueError(f"--{name} must be positive, got {getattr(self, name)}")
        if self.decode_threads < 0:
            raise ValueError(f"--decode_threads must be 0 or more, got {self.decode_threads}")
        if self.layout not in annotations.LAYOUT_CHOICES:
            raise ValueError(f"--layout {self.layout!r}: choose one of {', '.join(annotations.LAYOUT_CHOICES)}")

    @property
    def feature_dim(self):
        return backbones.get_backbone(self.backbone).feature_dim

    @classmethod
    def from_args(cls, args):
        sampling = sampling_lib.SamplingConfig(args.frames_per_video, args.fps, args.max_frames)
        if args.fps and args.frames_per_video != schema.DEFAULT_FRAMES_PER_VIDEO:
            raise ValueError("give either --frames_per_video or --fps/--max_frames, not both")
        return cls(
            annotations=args.annotations, video_dir=args.video_dir, output_dir=args.output_dir,
            layout=args.layout, video_pattern=args.video_pattern, video_mapping=args.video_mapping,
            allow_links_outside=args.allow_links_outside, backbone=args.cnn, cnn_weights=args.cnn_weights,
            image_size=args.image_size,
            sampling=sampling,
            feature_dtype=args.feature_dtype, answer_top_k=args.answer_top_k,
            max_question_tokens=args.max_question_tokens, inference_batch_size=args.inference_batch_size,
            decode_threads=args.decode_threads, large_model=args.large_model,
            feature_cache=args.feature_cache, overwrite=args.overwrite)


def manifest_config(config, cnn_description, num_candidates):
    """The configuration that determines the records (manifest `config`, fingerprinted)."""
    return {
        "schema_version": schema.SCHEMA_VERSION,
        "annotations": config.annotations,
        "layout": config.layout,
        "video_dir": config.video_dir,
        "video_pattern": config.video_pattern,
        "video_mapping": config.video_mapping,
        manifest_lib.CONFIG_CNN: cnn_description,
        manifest_lib.CONFIG_SAMPLING: config.sampling.to_dict(),
        manifest_lib.CONFIG_FEATURE_DTYPE: config.feature_dtype,
        manifest_lib.CONFIG_MAX_QUESTION_TOKENS: config.max_question_tokens,
        manifest_lib.CONFIG_ANSWER_TOP_K: config.answer_top_k,
        manifest_lib.CONFIG_NUM_CANDIDATES: num_candidates,
        manifest_lib.CONFIG_QUANTIZE: manifest_lib.quantize_config(),
    }


def build_argument_parser(parser_class=argparse.ArgumentParser):
    """Our flags; `parser_class` is the entry point's (features.cli's strict parser)."""
    parser = parser_class(prog="python -m pipeline.run", description="Videos and questions -> per-clip "
                          "feature records (Beam options such as --runner go on the same line).")
    add = parser.add_argument
    add("--annotations", required=True,
        help="glob of annotation files: any published layout (see --layout) or .json/.jsonl/.csv/.tsv")
    add("--video_dir", required=True, help="directory holding the videos (local or gs://)")
    add("--output_dir", required=True, help="where records, transform_fn/ and manifest.json go")
    add("--layout", default=annotations.DEFAULT_LAYOUT, choices=annotations.LAYOUT_CHOICES,
        help="annotation layout; auto recognises each file from its name and header or keys")
    add("--video_pattern", default=None,
        help="file name under --video_dir, with {video_id} and/or {clip} (default: the layout's naming)")
    add("--video_mapping", default=None,
        help="MSVD-QA youtube_mapping.txt or NExT-QA map_vid_vidorID.json")
    add("--allow_links_outside", action="store_true",
        help="follow symbolic links inside --video_dir that point outside it (link farms)")
    add("--cnn", default=backbones.DEFAULT_BACKBONE, choices=tuple(backbones.BACKBONES),
        help="the frozen image model (keras.applications, no top, average pooling)")
    add("--cnn_weights", default=schema.DEFAULT_CNN_WEIGHTS,
        help=f"{schema.CNN_WEIGHTS_CHOICES_HELP} (imagenet downloads once; needs internet)")
    add("--image_size", type=int, default=0, help="frame size for the CNN (default: the backbone's native size)")
    add("--frames_per_video", type=int, default=schema.DEFAULT_FRAMES_PER_VIDEO,
        help="frames taken uniformly over each clip (middle of N equal segments)")
    add("--fps", type=float, default=0.0, help="instead of --frames_per_video: one frame every 1/F s (needs --max_frames)")
    add("--max_frames", type=int, default=0, help="cap on frames with --fps")
    add("--feature_dtype", default=schema.DEFAULT_FEATURE_DTYPE, choices=schema.FEATURE_DTYPES)
    add("--answer_top_k", type=int, default=schema.DEFAULT_ANSWER_TOP_K,
        help="answer vocabulary (open-ended): the K most frequent training answers")
    add("--max_question_tokens", type=int, default=schema.DEFAULT_MAX_QUESTION_TOKENS,
        help="longer questions are truncated (and counted)")
    add("--inference_batch_size", type=int, default=DEFAULT_INFERENCE_BATCH_SIZE,
        help="frames per CNN call (whole clips share a batch up to this many frames)")
    add("--decode_threads", type=int, default=DEFAULT_DECODE_THREADS,
        help="background threads per worker decoding the next clips while the CNN embeds the previous ones")
    add("--large_model", action="store_true", help="one CNN per machine shared by all worker processes")
    add("--feature_cache", default=None,
        help="directory (local or gs://) of frame features kept between runs: the CNN runs once per clip ever")
    add("--overwrite", action="store_true", help="replace records of a different configuration in --output_dir")
    return parser
