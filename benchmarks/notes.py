"""Plain-language notes, with the run's numbers, on the figures that miss their goal.

`notes(raw, figures)` returns one paragraph per missed goal (and one on worker
scaling): what the time or CPU goes to and what would or could not close the
gap on this machine. The figures come from `benchmarks.analysis`.
"""

from benchmarks.analysis import MIB, _busy, _cpu, _frames, _x, feature_extraction


def _training_input_note(raw, by_id, missed):
    """Why a training-input figure misses 0.95: what reading and parsing cost on busy cores."""
    default = raw["training_input"]
    uncached = raw.get("training_input_uncached") or default
    cost = uncached["input_cost"]
    input_rate = uncached["batch_size"] / cost["full"]["wall_ms_per_batch"] * 1000
    ratios = [ratio for key in ("training_input", "training_input_uncached", "training_input_more_questions")
              if raw.get(key) for ratio in raw[key]["round_ratios"]]
    text = (f"{'/'.join(missed)}: without the cache the input costs {cost['full']['cpu_ms_per_batch']:.1f} "
            f"CPU-ms per batch of {uncached['batch_size']} (reading the GZIP shards "
            f"{cost['read']['cpu_ms_per_batch']:.1f}, + parsing "
            f"{cost['read_and_parse']['cpu_ms_per_batch'] - cost['read']['cpu_ms_per_batch']:.1f}, + per-question "
            f"expansion, shuffle and batching "
            f"{max(cost['full']['cpu_ms_per_batch'] - cost['read_and_parse']['cpu_ms_per_batch'], 0):.1f}); "
            f"training already keeps {uncached['memory']['cpu_cores_busy']:.2f} of "
            f"{raw['machine']['usable_cores']} cores busy from memory, so every CPU-ms the input takes is lost "
            f"to training. The input alone (no training) delivers {input_rate:,.0f} examples/s uncached, "
            f"{input_rate / uncached['memory']['best_examples_per_second']:.0f}x what training consumes: the "
            f"model never waits for data, it shares the cores with its input (a model on a GPU would not "
            f"share them). The largest part, reading, is mostly inflating the GZIP "
            f"shards; the records stay compressed for disk and network.")
    if default.get("cache"):
        text += (f" The trainer's default (--cache_input auto) keeps the parsed, padded videos in memory after the first "
                 f"epoch when their features fit {default['cache_auto_max_bytes'] / 2**30:g} GiB (here "
                 f"{default['cache_bytes'] / MIB:,.0f} MiB); its input then "
                 f"costs {default['input_cost']['full']['cpu_ms_per_batch']:.1f} CPU-ms per batch and the ratio "
                 f"is {by_id['3a']['text']} (3a).")
    more = raw.get("training_input_more_questions")
    if more:
        text += (f" With {more['input_cost']['questions_per_video']:.0f} questions per video (fewer videos to "
                 f"read per batch) the whole uncached input costs "
                 f"{more['input_cost']['full']['cpu_ms_per_batch']:.1f} CPU-ms per batch: "
                 f"{by_id['3b']['text']} (3b).")
    return text + (f" Per-round ratios ranged {min(ratios):.2f}-{max(ratios):.2f} in this run: differences of "
                   f"a few percent are within the noise of the machine.")


def _one_worker_note(raw, by_id):
    """What the one-worker multi_processing run adds to the explanation of 1b."""
    busy_one, busy_in = _busy(raw["pipeline"]["workers1_4n"]), _busy(raw["pipeline"]["float16_4n"])
    text = (f" With one multi_processing worker the steady state is {by_id['1i']['text']} of the bare CNN "
            f"(1i; whole commands kept {busy_one:.2f} and {busy_in:.2f} cores busy on average)")
    relative = by_id["1i"]["value"] / by_id["1b"]["value"]
    return (text + f": {relative:.2f}x the in-process runner's steady state. The worker runs the same fused "
            "stage on the same cores, and every element also crosses a process boundary; it costs a longer "
            "startup and about twice the memory (2b).")


def _feature_extraction_note(raw, parts, by_id):
    """Why 1b misses its goal: the CPU budget of this machine, with the run's numbers."""
    settings, cores = raw["settings"], raw["machine"]["usable_cores"]
    limits = raw["cnn_limit"]
    best = max((limits[key]["batched"] for key in limits), key=lambda item: item["frames_per_second"])
    small, large = raw["pipeline"]["float16_n"], raw["pipeline"]["float16_4n"]
    bare_cpu_ms = 1000 * best["cpu_cores_busy"] / best["frames_per_second"]
    steady_cpu_ms = 1000 * (_cpu(large) - _cpu(small)) / max(_frames(large) - _frames(small), 1)
    ceiling = cores * parts["cnn_ms"] / steady_cpu_ms
    busy = steady_cpu_ms / parts["steady_ms"]
    text = (f"1b: at {settings['image_size']} px the bare CNN takes {parts['cnn_ms']:.1f} ms per frame and "
            f"keeps {best['cpu_cores_busy']:.2f} of the {cores} cores busy ({bare_cpu_ms:.1f} CPU-ms per "
            f"frame). The pipeline adds decoding, sampling and resizing ({parts['decode_and_resize_ms']:.1f} "
            f"ms per frame on one core, measured alone) and Beam's work, {steady_cpu_ms:.1f} CPU-ms per frame "
            f"in all (1c). Decoding runs on a background thread while the CNN works (DecodeVideos "
            f"--decode_threads), but the CNN has left no core idle: even with all {cores} cores busy all the "
            f"time, {steady_cpu_ms:.1f} CPU-ms per frame cannot go faster than {ceiling:.2f}x of the bare CNN "
            f"here; the run reached {by_id['1b']['text']} with {busy:.2f} cores busy in the steady state. "
            f"Only less CPU per frame would help, and the cheap parts are already gone (see the Before column "
            f"for decoding, 1f).")
    if "1h" in by_id:
        full = parts["full_size"]
        text += (f" At {full['image_size']} px, InceptionV3's own input size and the pipeline's default, the CNN "
                 f"costs {full['cnn_ms']:.0f} ms per frame while decoding stays near {full['decode_ms']:.1f} ms, "
                 f"and the measured ratio is {by_id['1h']['text']} (1h): the goal holds where the CNN does "
                 f"the real work.")
    if "1i" in by_id:
        text += _one_worker_note(raw, by_id)
    return text


def _latency_note(raw, by_id):
    """Why 7a misses its goal at the benchmark's small image size."""
    result = raw["latency"]
    decode_ms = result["decode_seconds"]["best"] * 1000
    cnn_ms = result["cnn_seconds"]["best"] * 1000
    rest_ms = result["serving_features_seconds"]["best"] * 1000
    text = (f"7a: to answer, the {result['clip_frames']}-frame clip must be decoded up to its last sampled "
            f"frame ({decode_ms:.0f} ms; the frames in between cannot be skipped, each depends on the one "
            f"before), then the CNN embeds the {result['sampled_frames']} sampled frames "
            f"({cnn_ms:.0f} ms at {result['image_size']} px) and the question model adds {rest_ms:.0f} ms. "
            f"At {result['image_size']} px decoding alone is {decode_ms / cnn_ms:.0%} of the CNN's time, so "
            f"no export can reach 1.2x; the export no longer pads a clip's frames to a full CNN chunk of "
            f"32 (it doubled the CNN's work on 16 frames; see the Before column).")
    if "7c" in by_id:
        full = raw["full_size"]["latency"]
        text += (f" At {full['image_size']} px the CNN takes {full['cnn_seconds']['best'] * 1000:.0f} ms for the "
                 f"same frames, decoding {full['decode_seconds']['best'] * 1000:.0f} ms, and the measured "
                 f"ratio is {by_id['7c']['text']} (7c).")
    return text


def notes(raw, figures):
    """Plain-language explanations, with numbers, of the figures that miss their goal."""
    by_id = {figure["id"]: figure for figure in figures}
    _, parts = feature_extraction(raw)
    result = []
    if by_id.get("1b", {}).get("met") is False:
        result.append(_feature_extraction_note(raw, parts, by_id))
    missed = [key for key in ("3a", "3b", "3c") if by_id.get(key, {}).get("met") is False]
    if missed:
        result.append(_training_input_note(raw, by_id, missed))
    if by_id.get("7a", {}).get("met") is False:
        result.append(_latency_note(raw, by_id))
    if by_id.get("2a") and by_id["2a"]["value"] < 1.1:
        result.append(
            f"2a: two workers are no faster than one ({by_id['2a']['text']}): TensorFlow in one worker "
            f"already uses both cores for the CNN, so a second worker only adds its own startup "
            f"(importing TensorFlow, building its CNN) and memory (2c); on 2 cores there is nothing left "
            f"to scale onto (two CPU-bound processes did {raw['machine'].get('two_process_speedup')}x the "
            f"work of one in this run's probe).")
    return result
