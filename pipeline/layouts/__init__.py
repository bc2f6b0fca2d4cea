"""Readers of the published VideoQA annotation layouts, one module per benchmark.

    common       the row every reader yields, error records, file parsing helpers
    splits       splits from file names, rows and stable hashes
    detect       what a file's first bytes say: JSON keys, CSV columns
    qa_json      MSVD-QA, MSRVTT-QA and the generic JSON/JSONL/CSV form
    tgif         TGIF-QA (FrameQA, Action, Transition, Count)
    nextqa       NExT-QA (multiple choice) and NExT-OE (open-ended)
    activitynet  ActivityNet-QA (questions and answers in two files)
    how2qa       How2QA (no header, a segment per question)
    validate     the checks every layout shares: text, splits, video paths

`pipeline.annotations` is the public entry point; nothing here touches Beam.
"""
