"""The frozen image models `--cnn` can choose: a registry of `keras.applications` backbones.

Each backbone is used without its classification top, with global average
pooling, so one frame gives one vector of `feature_dim` values. Each keeps
its own input convention (`preprocess`): InceptionV3 scales pixels to
[-1, 1] and ResNet50 subtracts the ImageNet BGR means outside the model,
while EfficientNetV2, ConvNeXt and MobileNetV3 rescale inside the model, so
their `preprocess_input` passes pixels through (feeding them [-1, 1] inputs
would rescale twice and silently ruin the features).

    name                feature_dim  native size  minimum size
    inception_v3        2048         299          75   (the original Keras design)
    resnet50            2048         224          32
    efficientnet_v2_b0  1280         224          32
    efficientnet_v2_s   1280         384          32
    convnext_tiny        768         224          32
    mobilenet_v3_large   960         224          32

Nothing here imports TensorFlow or Keras: the registry is plain data, and
`features.cnn` builds the model.
"""

import dataclasses

DEFAULT_BACKBONE = "inception_v3"


@dataclasses.dataclass(frozen=True)
class Backbone:
    """One `keras.applications` architecture and its conventions."""

    name: str                # the --cnn value
    application: str         # constructor in keras.applications
    preprocess_module: str   # keras.applications.<module>.preprocess_input
    architecture: str        # human name, recorded in the manifest
    feature_dim: int         # pooled values per frame
    native_image_size: int   # the size it was trained at (default --image_size)
    min_image_size: int      # the smallest input Keras accepts


BACKBONES = {backbone.name: backbone for backbone in (
    Backbone("inception_v3", "InceptionV3", "inception_v3", "InceptionV3", 2048, 299, 75),
    Backbone("resnet50", "ResNet50", "resnet50", "ResNet50", 2048, 224, 32),
    Backbone("efficientnet_v2_b0", "EfficientNetV2B0", "efficientnet_v2", "EfficientNetV2B0", 1280, 224, 32),
    Backbone("efficientnet_v2_s", "EfficientNetV2S", "efficientnet_v2", "EfficientNetV2S", 1280, 384, 32),
    Backbone("convnext_tiny", "ConvNeXtTiny", "convnext", "ConvNeXtTiny", 768, 224, 32),
    Backbone("mobilenet_v3_large", "MobileNetV3Large", "mobilenet_v3", "MobileNetV3Large", 960, 224, 32),
)}


def get_backbone(name):
    """The registered backbone called `name`; ValueError lists the known ones."""
    try:
        return BACKBONES[name]
    except KeyError:
        raise ValueError(f"--cnn {name!r} is not a known backbone; choose one of "
                         f"{', '.join(BACKBONES)}") from None


def image_size_or_native(backbone, image_size):
    """`image_size` if given (not None or 0), else the backbone's native size."""
    return int(image_size) if image_size else backbone.native_image_size


def check_image_size(backbone, image_size):
    """ValueError if `image_size` is below what the backbone accepts."""
    if image_size < backbone.min_image_size:
        raise ValueError(
            f"--image_size {image_size} is below {backbone.architecture}'s minimum input of "
            f"{backbone.min_image_size}x{backbone.min_image_size}")


def describe_table():
    """The registry as Markdown rows (for --help and the README)."""
    lines = ["| --cnn | architecture | feature dim | native size | minimum size |",
             "|---|---|---:|---:|---:|"]
    for backbone in BACKBONES.values():
        lines.append(f"| `{backbone.name}` | {backbone.architecture} | {backbone.feature_dim} | "
                     f"{backbone.native_image_size} | {backbone.min_image_size} |")
    return "\n".join(lines)
