"""Answer questions about one video file with an exported model.

    python -m model.predict --model_dir M --video clip.mp4 --question "what is the man doing?"
        [--question ...] [--candidate A --candidate B ...] [--top_k 5] [--json] [--explain OUT.png]

Decodes and samples the video exactly as the pipeline did, loads the
SavedModel once and answers all questions together (see `model.answering`).
An open-ended model prints each question's best answers with probabilities;
a multiple-choice model takes the candidates (`--candidate`, repeated, as
many as the model was trained with) and prints them ranked; a count model
prints the number. A missing or undecodable video exits with status 2 and a
one-line message naming the file and the reason. `--explain OUT.png` (models
trained with `--video_encoder attention` or `transformer`) also draws the
sampled frames with the weight each question gave them (`model.explain`).
"""

if __name__ == "__main__":
    import sys as _sys

    from features import console as _console
    _console.quiet_tensorflow_startup(_sys.argv[1:])

import json
import os
import sys

from features import cli
from model import answering

DEFAULT_TOP_K = 5


def predict(model_dir, video_path, questions, candidates=None, top_k=DEFAULT_TOP_K, explain_path=None):
    """([Answer], DecodedVideo, ExportedModel) for the questions about one video.

    Cheap checks come first: the questions and candidates against the export's
    config, then decoding the video; the SavedModel is loaded after them. With
    `explain_path`, refuses a model without frame weights or a picture path in
    a missing directory.
    """
    if top_k <= 0:
        raise answering.AnswerError(f"--top_k must be positive, got {top_k}")
    model = answering.ExportedModel(model_dir, load=False)
    model.check_questions(questions, candidates)
    decoded = model.decode(video_path)
    model.load()
    if explain_path:
        check_explain(model, explain_path)
    if top_k > model.top_k and model.task != "count":
        print(f"model.predict: note: the export returns at most {model.top_k} answers per question "
              f"(re-export with `python -m model.export ... --top_k {top_k}` for more)", file=sys.stderr)
    return model.answer(decoded, questions, candidates, top_k), decoded, model


def check_explain(model, explain_path):
    """AnswerError unless the model gives frame weights and the picture's directory exists."""
    if not model.gives_frame_weights:
        encoder = model.describe().get("video_encoder") or "unknown"
        raise answering.AnswerError(
            f"--explain needs frame weights, and the model in {model.model_dir} (--video_encoder {encoder}) "
            f"gives none: train with --video_encoder attention or transformer to see which frames a "
            f"question looked at")
    directory = os.path.dirname(os.path.abspath(explain_path))
    if not os.path.isdir(directory):
        raise answering.AnswerError(f"--explain {explain_path}: directory {directory} does not exist")


def print_answers(video_path, answers, decoded):
    print(f"{video_path}: {decoded.num_frames} frames sampled of {decoded.total_frames} ({decoded.duration:.1f} s)")
    for answer in answers:
        print(f"Q: {answer.question}")
        if answer.count is not None:
            print(f"   count: {answer.count:.2f} (rounded: {answer.ranked[0][0]})")
            continue
        for text, probability in answer.ranked:
            print(f"   {probability:6.1%}  {text}")


def run(argv=None):
    parser = cli.StrictArgumentParser(
        prog="python -m model.predict", description="Answer questions about a video with M/export.")
    parser.add_argument("--model_dir", required=True, help="the --model_dir of a training run")
    parser.add_argument("--video", required=True, help="video file (any path Beam can open)")
    parser.add_argument("--question", action="append", default=[], help="repeat for several questions")
    parser.add_argument("--candidate", action="append", default=[],
                        help="multiple choice: a candidate answer (repeat, as many as the model takes)")
    parser.add_argument("--top_k", type=int, default=DEFAULT_TOP_K)
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--explain", metavar="OUT.png", default=None,
                        help="write a picture of the sampled frames and the weight each question gave "
                             "them (models trained with --video_encoder attention or transformer)")
    cli.add_verbose_flag(parser)
    args = parser.parse_args(argv)
    try:
        answers, decoded, model = predict(args.model_dir, args.video, args.question, args.candidate, args.top_k,
                                          args.explain)
    except answering.AnswerError as error:
        print(f"model.predict: error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([answer.to_dict() for answer in answers], indent=2))
    else:
        print_answers(args.video, answers, decoded)
    if args.explain:
        from model import explain
        try:
            drawing = explain.explain_answers(decoded, answers, args.explain, os.path.basename(args.video),
                                              model.describe().get("video_encoder"))
        except (ValueError, OSError) as error:
            print(f"model.predict: error: {error}", file=sys.stderr)
            return 2
        print(f"wrote {drawing.path} ({drawing.num_rows} question(s) x {drawing.num_frames} frames)",
              file=sys.stderr if args.json else sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(run())
