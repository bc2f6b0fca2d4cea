"""Turn the raw measurements of one run into figures: ratios, breakdowns, goals met or missed.

`compute(raw)` returns a list of figure dicts, in table order:
  id, section, name     e.g. "1b", "1 Feature extraction", "steady-state pipeline / bare CNN"
  value, text           the number and how it is shown ("0.81x", "412 MiB", ...)
  goal, met             the goal's text and True/False (None: no goal, informative)
  basis                 measured | extrapolated | projected (what the number rests on)
  detail                the numbers behind it
"""

import statistics

MIB = 2 ** 20
FEATURE_DIM = 2048
BYTES_PER_VALUE = {"float32": 4, "float16": 2, "uint8": 1}
CUMULATIVE_EPOCHS = (1, 5, 20)


def _figure(figure_id, section, name, value, text, goal=None, met=None, basis="measured", detail=""):
    return {"id": figure_id, "section": section, "name": name, "value": value, "text": text,
            "goal": goal, "met": met, "basis": basis, "detail": detail}


def _x(value, digits=2):
    return f"{value:.{digits}f}x"


def _mib(value):
    return f"{value / MIB:,.0f} MiB"


def _pct(value):
    return f"{value:+.1%}"


def _wall(run):
    """Wall seconds of a pipeline run: the fastest of its repeats, if it was repeated."""
    repeats = run.get("repeats")
    return min(r["wall_seconds"] for r in repeats) if repeats else run["measurement"]["wall_seconds"]


def _busy(run):
    """Average cores a pipeline command kept busy (its first run's CPU seconds / wall seconds)."""
    return run["measurement"]["cpu_seconds"] / run["measurement"]["wall_seconds"]


def _cpu(run):
    repeats = run.get("repeats")
    return min(r["cpu_seconds"] for r in repeats) if repeats else run["measurement"]["cpu_seconds"]


def _frames(run):
    return run["counts"]["frames"]


def feature_extraction(raw):
    """Figures of measurement 1 and the per-frame/startup breakdown (also returned as a dict)."""
    section = "1 Feature extraction"
    limits = raw["cnn_limit"]
    bare = max(limits[key]["batched"]["frames_per_second"] for key in limits)
    per_frame = max(limits[key]["per_frame"]["frames_per_second"] for key in limits)
    predict = max(limits[key]["keras_predict_per_frame"]["frames_per_second"] for key in limits)
    small, large = raw["pipeline"]["float16_n"], raw["pipeline"]["float16_4n"]
    whole = _frames(large) / _wall(large)
    steady = (_frames(large) - _frames(small)) / max(_wall(large) - _wall(small), 1e-9)
    cnn_ms = 1000 / bare
    decode = raw["decode_cost"]
    decode_ms = decode["decode_video"]["ms_per_sampled_frame"]
    resize_ms = decode["resize_ms_per_frame"]
    steady_ms = 1000 / steady
    rest_ms = steady_ms - cnn_ms - decode_ms
    fixed = _wall(small) - _frames(small) / steady
    bare_cpu_ms = 1000 * max((limits[key]["batched"] for key in limits),
                             key=lambda item: item["frames_per_second"])["cpu_cores_busy"] / bare
    steady_cpu_ms = 1000 * (_cpu(large) - _cpu(small)) / max(_frames(large) - _frames(small), 1)
    timings = small["timings"]
    imports, checksum = timings["startup_imports"] or 0.0, timings["checksum_cnn"] or 0.0
    settings = raw["settings"]
    breakdown = {"cnn_ms": cnn_ms, "decode_and_resize_ms": decode_ms, "resize_ms": resize_ms,
                 "rest_ms": rest_ms, "steady_ms": steady_ms, "fixed_seconds": fixed,
                 "imports_seconds": imports, "checksum_cnn_seconds": checksum}
    limits_text = ", ".join(f"{key} {limits[key]['batched']['frames_per_second']:.1f}" for key in limits)
    figures = [
        _figure("1a", section, f"bare CNN, batches of {settings['inference_batch_size']} "
                f"({settings['image_size']}x{settings['image_size']})", bare, f"{bare:.1f} frames/s",
                detail=f"reference: best of the runs before/after the pipeline runs ({limits_text} "
                       f"frames/s); FrozenCnn.embed on preloaded batches"),
        _figure("1b", section, "steady-state pipeline / bare CNN", steady / bare, _x(steady / bare),
                goal=">= 0.85", met=steady / bare >= 0.85,
                detail=f"{steady:.1f} frames/s = ({_frames(large)} - {_frames(small)}) frames / "
                       f"({_wall(large):.1f} - {_wall(small):.1f}) s of the whole pipeline.run command "
                       f"at {settings['num_videos_large']} and {settings['num_videos']} videos "
                       f"(in-process DirectRunner, fastest of {len(large.get('repeats', [1]))} runs each); "
                       f"fixed costs cancel"),
        _figure("1c", section, "steady-state CPU time per frame: bare CNN / pipeline",
                bare_cpu_ms / steady_cpu_ms, _x(bare_cpu_ms / steady_cpu_ms),
                detail=f"{bare_cpu_ms:.1f} vs {steady_cpu_ms:.1f} CPU-ms per frame (user+system, from the "
                       f"difference of the two runs): the work per frame, whatever the parallelism; less "
                       f"sensitive than wall time to other jobs on the machine"),
        _figure("1d", section, f"whole pipeline.run at {settings['num_videos_large']} videos / bare CNN",
                whole / bare, _x(whole / bare),
                detail=f"{whole:.1f} frames/s = {_frames(large)} frames / {_wall(large):.1f} s, "
                       f"including a fixed {fixed:.1f} s of startup"),
        _figure("1e", section, "per-frame CNN calls / bare CNN (batched)", per_frame / bare,
                _x(per_frame / bare),
                detail=f"{per_frame:.1f} frames/s, one FrozenCnn.embed call per frame; Keras "
                       f"model.predict per frame (Keras example style): {predict:.1f} frames/s "
                       f"= {_x(predict / bare)}"),
        _figure("1f", section, "steady-state time per frame: CNN | decode+resize | rest",
                steady_ms, f"{cnn_ms:.1f} | {decode_ms:.1f} | {rest_ms:.1f} ms",
                detail=f"of {steady_ms:.1f} ms per frame: CNN {cnn_ms / steady_ms:.0%}, decoding+sampling+"
                       f"resizing {decode_ms / steady_ms:.0%} (resize alone {resize_ms:.1f} ms), Beam "
                       f"(batching, tf.Transform, writing; decoding overlaps the CNN, so this can be small or negative) {rest_ms / steady_ms:.0%}"),
        _figure("1g", section, "fixed startup of pipeline.run", fixed, f"{fixed:.1f} s",
                detail=f"imports {imports:.1f} s, building the CNN for its checksum {checksum:.1f} s, "
                       f"the rest ({fixed - imports - checksum:.1f} s) is Beam/tf.Transform: graph "
                       f"construction, the worker's own CNN, stage setup, vocabulary analysis"),
    ]
    full = full_size_pipeline(raw)
    if full:
        breakdown["full_size"] = full
        size = full["image_size"]
        figures.append(_figure(
            "1h", section, f"steady-state pipeline / bare CNN at {size}x{size} (InceptionV3's own size)",
            full["ratio"], _x(full["ratio"]), goal=">= 0.85", met=full["ratio"] >= 0.85,
            detail=f"{full['steady_frames_per_second']:.2f} vs {full['bare_frames_per_second']:.2f} frames/s "
                   f"(bare CNN: best of before/after the pipelines, {full['limits_text']}); "
                   f"({full['large_frames']} - {full['small_frames']}) frames / ({full['large_seconds']:.1f} - "
                   f"{full['small_seconds']:.1f}) s of pipeline.run --image_size {size} at "
                   f"{full['large_videos']} and {full['small_videos']} videos; decode+resize "
                   f"{full['decode_ms']:.1f} ms per frame against the CNN's {full['cnn_ms']:.0f} ms"))
    one_small, one_large = raw["pipeline"].get("workers1_n"), raw["pipeline"].get("workers1_4n")
    if one_small and one_large:
        steady_one = (_frames(one_large) - _frames(one_small)) / max(_wall(one_large) - _wall(one_small), 1e-9)
        rates = one_large["timings"]["progress_frames_per_second"]
        breakdown["one_worker_steady_frames_per_second"] = steady_one
        figures.append(_figure(
            "1i", section, "steady-state pipeline, 1 multi_processing worker / bare CNN", steady_one / bare,
            _x(steady_one / bare), goal=">= 0.85", met=steady_one / bare >= 0.85,
            detail=f"{steady_one:.1f} frames/s = ({_frames(one_large)} - {_frames(one_small)}) frames / "
                   f"({_wall(one_large):.1f} - {_wall(one_small):.1f}) s with --direct_running_mode="
                   f"multi_processing --direct_num_workers=1 (one run each); the worker's own progress "
                   f"line said {rates[-1] if rates else '?'} frames/s embedded; its fixed startup is "
                   f"{_wall(one_small) - _frames(one_small) / steady_one:.1f} s (in-process {fixed:.1f} s)"))
    return figures, breakdown


def full_size_pipeline(raw):
    """The steady-state ratio measured at the full image size (None for runs without it)."""
    full = raw.get("full_size")
    if not full:
        return None
    limits, small, large = full["cnn_limit"], full["pipeline"]["small"], full["pipeline"]["large"]
    bare = max(limits[key]["batched"]["frames_per_second"] for key in limits)
    steady = (_frames(large) - _frames(small)) / max(_wall(large) - _wall(small), 1e-9)
    decode = raw["decode_cost"].get("projection", {})
    return {"image_size": full["image_size"], "ratio": steady / bare, "steady_frames_per_second": steady,
            "bare_frames_per_second": bare, "cnn_ms": 1000 / bare,
            "decode_ms": decode.get("decode_video", {}).get("ms_per_sampled_frame", float("nan")),
            "limits_text": ", ".join(f"{key} {limits[key]['batched']['frames_per_second']:.2f}" for key in limits),
            "small_frames": _frames(small), "large_frames": _frames(large),
            "small_seconds": _wall(small), "large_seconds": _wall(large),
            "small_videos": small["counts"]["videos"], "large_videos": large["counts"]["videos"]}


def scaling(raw):
    section = "2 Scaling with workers"
    one, two = raw["pipeline"]["workers1_4n"], raw["pipeline"]["workers2_4n"]
    in_process = raw["pipeline"]["float16_4n"]
    speed = (_frames(two) / _wall(two)) / (_frames(one) / _wall(one))
    rss_one, rss_two = one["measurement"]["peak_tree_rss_bytes"], two["measurement"]["peak_tree_rss_bytes"]
    pss_one, pss_two = one["measurement"]["peak_tree_pss_bytes"], two["measurement"]["peak_tree_pss_bytes"]
    speedup = raw["machine"].get("two_process_speedup")
    return [
        _figure("2a", section, "throughput, 2 workers / 1 worker (multi_processing)", speed, _x(speed),
                detail=f"{_frames(one) / _wall(one):.1f} -> {_frames(two) / _wall(two):.1f} frames/s "
                       f"(whole command, {_frames(one)} frames); in-process default: "
                       f"{_frames(in_process) / _wall(in_process):.1f} frames/s; this machine's two "
                       f"processes do {speedup}x the work of one (probe)"),
        _figure("2b", section, "peak memory, 1 worker", rss_one, _mib(rss_one),
                detail=f"process tree, sum of RSS ({one['measurement']['max_processes']} processes); "
                       f"PSS {_mib(pss_one)}"),
        _figure("2c", section, "peak memory, 2 workers", rss_two, _mib(rss_two),
                detail=f"{_x(rss_two / rss_one)} of 1 worker; PSS {_mib(pss_two)} "
                       f"({_x(pss_two / pss_one)}); {two['measurement']['max_processes']} processes, "
                       f"each worker holds its own TensorFlow and CNN"),
    ]


def _training_input_figure(figure_id, name, result):
    ratio = result["ratio"]
    return _figure(
        figure_id, "3 Training input", name, ratio, _x(ratio), goal=">= 0.95", met=ratio >= 0.95,
        detail=f"{result['records']['best_examples_per_second']:.0f} vs "
               f"{result['memory']['best_examples_per_second']:.0f} examples/s (fastest of "
               f"{result['rounds'] * (result['epochs_per_fit'] - 1)} epochs of "
               f"{result['steps_per_measured_epoch']} steps of {result['batch_size']} each, fits alternating); "
               f"medians {result['records']['examples_per_second']:.0f} vs "
               f"{result['memory']['examples_per_second']:.0f}, median of per-round ratios "
               f"{result['ratio_median_of_rounds']:.2f}; CPU per step {result['records']['cpu_ms_per_step']:.0f} "
               f"vs {result['memory']['cpu_ms_per_step']:.0f} ms, cores busy "
               f"{result['records']['cpu_cores_busy']:.2f} vs {result['memory']['cpu_cores_busy']:.2f}; "
               f"first epoch of a fit (iterator start, shuffle buffer fill): "
               f"{statistics.median(result['records']['first_epoch_seconds']):.2f} s vs "
               f"{statistics.median(result['memory']['first_epoch_seconds']):.2f} s"
               + (f"; {result['cache_note']}" if result.get("cache_note") else ""))


def training_input(raw):
    result = raw["training_input"]
    per_video = result["input_cost"]["questions_per_video"]
    cached = result.get("cache")
    figures = [_training_input_figure(
        "3a", f"training from the records / from memory ({per_video:.0f} questions per video"
              + (", trainer's default input cache" if cached is not None else "") + ")", result)]
    more = raw.get("training_input_more_questions")
    if more:
        figures.append(_training_input_figure(
            "3b", f"the same with {more['input_cost']['questions_per_video']:.0f} questions per video"
                  + (", no cache" if more.get("cache") is False else ""), more))
    uncached = raw.get("training_input_uncached")
    if uncached:
        figures.append(_training_input_figure(
            "3c", f"the same with {per_video:.0f} questions per video, no cache (--cache_input none)", uncached))
    return figures


def precomputed(raw):
    section = "4 Precomputed vs end to end"
    run = raw["train"]["float16_4n"]
    batch = raw["settings"]["train_batch_size"]
    epochs = run["history"]["epochs"]
    later = epochs[1:] or epochs
    full_epoch = statistics.median(entry["epoch_seconds"] for entry in later)
    steps = run["train_examples"] // batch
    train_epoch = statistics.median(steps * batch / entry["examples_per_second"] for entry in later)
    e2e = raw["end_to_end"]
    e2e_epoch = e2e["epoch_seconds_extrapolated"]
    pipeline_cost = _wall(raw["pipeline"]["float16_4n"])
    each_process = e2e.get("seconds_per_step_of_each_process")
    processes = (f" (the faster of {len(each_process)} processes: "
                 f"{', '.join(f'{value:.1f}' for value in each_process)} s per step)" if each_process else "")
    figures = [
        _figure("4a", section, "time per epoch: end to end / ours (training steps)", e2e_epoch / train_epoch,
                _x(e2e_epoch / train_epoch, 0), basis="measured + extrapolated",
                detail=f"ours {train_epoch:.2f} s (median of epochs 2-{len(epochs)} of model.train, "
                       f"measured; {full_epoch:.2f} s with validation and checkpoints, first epoch "
                       f"{epochs[0]['epoch_seconds']:.1f} s); end to end {e2e_epoch:.1f} s per epoch "
                       f"(extrapolated from {e2e['measured_steps']} measured steps of "
                       f"{e2e['seconds_per_step']:.1f} s{processes} "
                       f"to {e2e['steps_per_epoch']} steps; its CNN ran at {e2e['cnn_frames_per_second']:.0f} "
                       f"frames/s; decoding, not counted, would add "
                       f"{e2e['decode_seconds_all_train_videos']:.1f} s "
                       f"per epoch)"),
    ]
    for count in CUMULATIVE_EPOCHS:
        ours = pipeline_cost + count * full_epoch
        theirs = count * e2e_epoch
        figures.append(_figure(
            f"4{'bcd'[CUMULATIVE_EPOCHS.index(count)]}", section,
            f"cumulative after {count} epoch{'s' if count > 1 else ''}: end to end / ours",
            theirs / ours, _x(theirs / ours, 1), basis="extrapolated",
            detail=f"ours {ours:.0f} s = pipeline {pipeline_cost:.0f} s (measured, whole command) + "
                   f"{count} x {full_epoch:.2f} s (full epochs); end to end {theirs:.0f} s = {count} x "
                   f"{e2e_epoch:.1f} s"))
    return figures


def storage(raw):
    section = "5 Storage"
    figures = []
    for dtype, key in (("float32", "float32_4n"), ("float16", "float16_4n"), ("uint8", "uint8_4n")):
        run = raw["pipeline"][key]
        videos = run["counts"]["videos"]
        frames_per_video = run["counts"]["frames"] / videos
        payload = frames_per_video * FEATURE_DIM * BYTES_PER_VALUE[dtype]
        serialized = run["bytes"]["serialized_records"] / videos
        disk = run["bytes"]["files_on_disk"] / videos
        figures.append(_figure(
            f"5{'abc'[len(figures)]}", section, f"{dtype}: record bytes per video / raw payload",
            serialized / payload, _x(serialized / payload, 3), goal="<= 1.05", met=serialized / payload <= 1.05,
            detail=f"{serialized:,.0f} B serialized vs {frames_per_video:.0f} frames x {FEATURE_DIM} x "
                   f"{BYTES_PER_VALUE[dtype]} B = {payload:,.0f} B; on disk (GZIP) {disk:,.0f} B = "
                   f"{_x(disk / payload, 2)} (random-weight features compress more than ImageNet ones)"))
    base, more = raw["pipeline"]["float16_n"], raw["pipeline"]["float16_n_questions"]
    per_video = [run["bytes"]["serialized_records"] / run["counts"]["videos"] for run in (base, more)]
    questions = [run["counts"]["questions"] / run["counts"]["videos"] for run in (base, more)]
    growth = per_video[1] / per_video[0] - 1
    per_question = (per_video[1] - per_video[0]) / (questions[1] - questions[0])
    figures.append(_figure(
        "5d", section, f"bytes per video with {questions[1]:.0f} instead of {questions[0]:.0f} questions",
        growth, _pct(growth), goal="barely changes (no feature copy)", met=growth < 0.05,
        detail=f"{per_video[0]:,.0f} -> {per_video[1]:,.0f} B per video (float16): {per_question:,.0f} B per "
               f"extra question; a copy of the features per question would add "
               f"{per_video[0]:,.0f} B each"))
    accuracy = raw["accuracy"]
    f16, u8 = accuracy["float16"], accuracy["uint8"]
    delta = u8["accuracy"] - f16["accuracy"]
    figures.append(_figure(
        "5e", section, "test accuracy, uint8 - float16 storage", delta, f"{delta * 100:+.1f} points",
        detail=f"float16 {f16['accuracy']:.1%} ({f16['correct']}/{f16['questions']}), uint8 "
               f"{u8['accuracy']:.1%} ({u8['correct']}/{u8['questions']}); {raw['settings']['epochs']} "
               f"epochs each, same seed; one question = {1 / max(f16['questions'], 1):.1%}"))
    return figures


def memory(raw):
    section = "6 Memory"
    settings = raw["settings"]
    small, large = raw["pipeline"]["float16_n"], raw["pipeline"]["float16_4n"]
    peak_small = small["measurement"]["peak_tree_rss_bytes"]
    peak_large = large["measurement"]["peak_tree_rss_bytes"]
    growth = peak_large / peak_small - 1
    t_small, t_large = raw["train"]["float16_n"], raw["train"]["float16_4n"]
    train_small = t_small["measurement"]["peak_tree_rss_bytes"]
    train_large = t_large["measurement"]["peak_tree_rss_bytes"]
    return [
        _figure("6a", section, f"pipeline peak memory, {settings['num_videos']} -> "
                f"{settings['num_videos_large']} videos", growth, _pct(growth), goal="< +15%",
                met=growth < 0.15,
                detail=f"{_mib(peak_small)} -> {_mib(peak_large)} (in-process DirectRunner, one process; "
                       f"kernel high-water marks {_mib(small['measurement']['peak_process_bytes'])} -> "
                       f"{_mib(large['measurement']['peak_process_bytes'])})"),
        _figure("6b", section, f"trainer peak memory, {settings['num_videos']} -> "
                f"{settings['num_videos_large']} videos", train_large / train_small - 1,
                _pct(train_large / train_small - 1),
                detail=f"{_mib(train_small)} -> {_mib(train_large)} (model.train, {settings['epochs']} epochs; "
                       f"the shuffle buffer holds up to 1024 examples of 16x2048 float32 = 128 KiB each)"),
    ]


def latency(raw):
    section = "7 Answering latency"
    result = raw["latency"]
    ratio = result["ratio"]
    cold = raw["predict_command"]["wall_seconds"]

    def ms(key):
        return f"{result[key]['best'] * 1000:.0f} ms"

    return [
        _figure("7a", section,
                f"answer {result['questions']} questions on a {result['clip_seconds']:.0f} s clip "
                f"/ CNN alone", ratio, _x(ratio), goal="<= 1.2", met=ratio <= 1.2,
                detail=f"{ms('answer_seconds')} (decode {ms('decode_seconds')} + serving_frames "
                       f"{ms('serving_frames_seconds')}) vs CNN alone on the {result['sampled_frames']} "
                       f"sampled "
                       f"frames {ms('cnn_seconds')} (fastest of {result['repeats']}; ratio of medians "
                       f"{result['ratio_of_medians']:.2f}); without the CNN (serving_features) "
                       f"{ms('serving_features_seconds')}"),
        _figure("7b", section, "one-shot `python -m model.predict` (cold start)", cold, f"{cold:.1f} s",
                detail=f"imports, SavedModel load ({result['model_load_seconds']:.1f} s when timed alone), "
                       f"decode, answer; with the model loaded an answer takes {ms('answer_seconds')}"),
        *latency_full_size(raw),
    ]


def latency_full_size(raw):
    """7c: the latency ratio measured again at the full image size, with a model trained there."""
    full = raw.get("full_size")
    if not full:
        return []
    result = full["latency"]
    ratio = result["ratio"]
    size = result["image_size"]

    def ms(key):
        return f"{result[key]['best'] * 1000:.0f} ms"

    return [_figure(
        "7c", "7 Answering latency", f"the same at {size}x{size} (InceptionV3's own size) / CNN alone",
        ratio, _x(ratio), goal="<= 1.2", met=ratio <= 1.2,
        detail=f"{ms('answer_seconds')} (decode {ms('decode_seconds')} + serving_frames "
               f"{ms('serving_frames_seconds')}) vs CNN alone on the {result['sampled_frames']} sampled frames "
               f"{ms('cnn_seconds')} (fastest of {result['repeats']}; ratio of medians "
               f"{result['ratio_of_medians']:.2f}); without the CNN {ms('serving_features_seconds')}; model "
               f"trained {len(full['train']['history']['epochs'])} epochs on the {size}-px records of {full['pipeline']['large']['counts']['videos']} videos")]


def compute(raw):
    """All figures of a run, in table order."""
    first, _ = feature_extraction(raw)
    return (first + scaling(raw) + training_input(raw) + precomputed(raw) + storage(raw) + memory(raw)
            + latency(raw))


def breakdown(raw):
    """The per-frame and startup breakdown of measurement 1 (for results.json)."""
    return feature_extraction(raw)[1]
