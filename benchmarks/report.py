"""Write a run's results: results.json (everything), results.md (the table), and a console table.

A baseline (an earlier results.json, e.g. from before a fix; an optional
"label" key says which) adds a "before" column matched by figure id, so a
change shows as before/after in one table.
"""

import json
import os

from benchmarks import analysis, machine

MET = {True: "yes", False: "**no**", None: ""}


def _baseline_values(baseline):
    if not baseline:
        return {}
    return {figure["id"]: figure for figure in baseline.get("figures", [])}


def _max_load(raw):
    values = [value for value in raw.get("load_average", {}).values() if value is not None]
    return max(values) if values else None


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(raw, figures, baseline=None):
    """The Markdown document: machine, settings, table, notes."""
    description, settings = raw["machine"], raw["settings"]
    before = _baseline_values(baseline)
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {description['cores']} cores ({description['usable_cores']} usable, "
        f"{description.get('threads_per_core') or '?'} threads per core), {description['cpu_model']}, "
        f"{description['ram_gib']} GiB RAM, no GPU; TensorFlow {description['versions']['tensorflow']}, "
        f"Beam {description['versions']['apache-beam']}, tf.Transform "
        f"{description['versions']['tensorflow-transform']}, Python {description['python']}; "
        f"{description['date']}.",
        f"Two CPU-bound processes do {description.get('two_process_speedup', '?')}x the work of one here; "
        f"1-minute load average {description['load_average_at_start']} at the start, "
        f"{description.get('load_average_at_end')} at the end, up to {_max_load(raw)} before a "
        f"measurement (other jobs on the machine make every figure noisier).",
        "",
        f"Settings: images {settings['image_size']}x{settings['image_size']}, "
        f"{settings['frames_per_video']} frames per video, CNN batch {settings['inference_batch_size']} "
        f"frames, training batch {settings['train_batch_size']} questions, {settings['epochs']} epochs; "
        f"synthetic sets of N={settings['num_videos']} and 4N={settings['num_videos_large']} videos "
        f"(3 questions each), seed {settings['seed']}{'; --quick' if settings['quick'] else ''}"
        + (f"; 1h and 7c at {settings['full_size']['image_size']}x{settings['full_size']['image_size']} on "
           f"{settings['full_size']['num_videos']} and {settings['full_size']['num_videos_large']} videos"
           if "full_size" in settings else "") + ". "
        f"**CNN weights: random** (offline; ImageNet weights cannot be downloaded here): speed is the "
        f"same, features carry no ImageNet knowledge. "
        f"Command: `{raw.get('command', 'python -m benchmarks.run')}`, "
        f"{raw['total_seconds'] / 60:.1f} min.",
        "",
    ]
    header = "| # | Figure | Value | Goal | Met | Basis |"
    rule = "|---|---|---|---|---|---|"
    if before:
        label = f"{baseline['label']}, " if baseline.get("label") else ""
        header += f" Before ({label}{baseline['machine']['date']}) |"
        rule += "---|"
    lines += [header + " Details |", rule + "---|"]
    section = None
    for figure in figures:
        if figure["section"] != section:
            section = figure["section"]
            lines.append(f"| **{section}** | | | | | |" + (" |" if before else "") + " |")
        row = (f"| {figure['id']} | {_cell(figure['name'])} | {_cell(figure['text'])} | "
               f"{_cell(figure['goal'] or '')} | {MET[figure['met']]} | {figure['basis']} |")
        if before:
            old = before.get(figure["id"])
            row += f" {_cell(old['text']) if old else ''} |"
        lines.append(row + f" {_cell(figure['detail'])} |")
    if before:
        lines += ["", f"Before: the same benchmark run earlier ({baseline.get('label') or 'baseline'}); other "
                      f"jobs loaded the machine differently then (load up to {_max_load(baseline['raw'])}, now "
                      f"{_max_load(raw)}), so a change smaller than the run-to-run noise means nothing."]
        then_cpu, now_cpu = baseline["machine"].get("cpu_model"), raw["machine"].get("cpu_model")
        if then_cpu != now_cpu:
            lines[-1] += (f" **The Before column ran on another CPU ({then_cpu}; now {now_cpu}): compare "
                          f"ratios only, and rerun the baseline's commit here for a fair comparison.**")
    missed = [figure for figure in figures if figure["met"] is False]
    lines += ["", "Goals missed: " + (", ".join(f"{f['id']} ({f['name']}: {f['text']}, goal {f['goal']})"
                                              for f in missed) or "none") + "."]
    notes = raw.get("notes") or []
    if notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in notes]
    lines += ["", "Raw measurements (every command, wall time, peak memory, child outputs): `results.json`."]
    return "\n".join(lines) + "\n"


def console_table(raw, figures, baseline=None):
    """Plain-text table for the terminal."""
    before = _baseline_values(baseline)
    rows = [("#", "Figure", "Value", "Goal", "Met") + (("Before",) if before else ())]
    for figure in figures:
        row = (figure["id"], figure["name"][:60], figure["text"], figure["goal"] or "",
               {True: "yes", False: "NO", None: ""}[figure["met"]])
        if before:
            row += (before[figure["id"]]["text"] if figure["id"] in before else "",)
        rows.append(row)
    widths = [max(len(str(row[column])) for row in rows) for column in range(len(rows[0]))]
    text = [f"\nBenchmarks on {machine.one_line(raw['machine'])} (CNN weights: RANDOM)"]
    for index, row in enumerate(rows):
        text.append("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
        if index == 0:
            text.append("  ".join("-" * width for width in widths))
    return "\n".join(text)


def _strip_outputs(value):
    """Raw results without the children's full stdout/stderr (they stay in the scratch logs)."""
    if isinstance(value, dict):
        return {key: _strip_outputs(item) for key, item in value.items() if key not in ("stdout", "stderr")}
    if isinstance(value, list):
        return [_strip_outputs(item) for item in value]
    return value


def write(results_dir, raw, figures, baseline=None):
    """Write results.json and results.md; return their paths."""
    os.makedirs(results_dir, exist_ok=True)
    json_path = os.path.join(results_dir, "results.json")
    md_path = os.path.join(results_dir, "results.md")
    document = {"machine": raw["machine"], "settings": raw["settings"], "command": raw.get("command"),
                "total_seconds": raw["total_seconds"], "figures": figures,
                "breakdown": analysis.breakdown(raw), "notes": raw.get("notes") or [],
                "baseline_date": baseline["machine"]["date"] if baseline else None,
                "raw": _strip_outputs(raw)}
    with open(json_path, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=1, default=str)
        handle.write("\n")
    with open(md_path, "w", encoding="utf-8") as handle:
        handle.write(markdown(raw, figures, baseline))
    return [json_path, md_path]
