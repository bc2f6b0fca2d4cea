"""Figure 6: record bytes per video for each feature dtype, against the raw feature payload.

Reads figure 1's large run's records (`features.records`), and for each dtype
re-encodes every clip's features with `features.quantize.encode_frames` into
the same record (questions, tokens and all), so that the serialized size is
exactly what the pipeline would write with that `--feature_dtype`. The raw
payload is frames x feature_dim x bytes per value. The GZIP size of the other
dtypes is only indicative: their values come from the stored dtype's.
"""

import gzip

from benchmarks import common


def sizes_per_video(output_dir, manifest):
    """{dtype: (mean serialized bytes, mean GZIP bytes, mean payload bytes)} over the train records."""
    import tensorflow as tf
    from features import quantize, records, schema
    from features import manifest as manifest_lib
    stored, dim = manifest_lib.feature_dtype(manifest), manifest_lib.feature_dim(manifest)
    totals = {dtype: [0, 0, 0] for dtype in schema.FEATURE_DTYPES}
    count = 0
    for serialized in records.read_records(schema.record_file_pattern(output_dir, schema.TRAIN_SPLIT)):
        features = records.parse_video_example_numpy(serialized, stored, dim)[schema.FRAME_FEATURES_KEY]
        example = tf.train.SequenceExample.FromString(serialized)
        frames = example.feature_lists.feature_list[schema.FRAME_FEATURES_KEY].feature
        for dtype, total in totals.items():
            for frame, frame_bytes in zip(frames, quantize.encode_frames(features, dtype, dim)):
                frame.bytes_list.value[0] = frame_bytes
            encoded = example.SerializeToString()
            total[0] += len(encoded)
            total[1] += len(gzip.compress(encoded))
            total[2] += len(features) * dim * quantize.bytes_per_value(dtype)
        count += 1
    if not count:
        raise ValueError(f"{output_dir}: no train records to measure")
    return {dtype: tuple(value / count for value in total) for dtype, total in totals.items()}, stored, count


def measure(settings, shared):
    large = shared["large_run"]
    sizes, stored, count = sizes_per_video(large.output_dir, large.manifest)
    for dtype, (serialized, compressed, payload) in sizes.items():
        note = "as stored" if dtype == stored else f"re-encoded from the stored {stored}"
        yield common.figure(f"storage_{dtype}_vs_payload", serialized / payload, "x",
                            f"raw features: {payload:,.0f} B per video",
                            f"{serialized:,.0f} B serialized, {compressed:,.0f} B GZIP ({note}); "
                            f"mean of {count} train clips")
