"""The results files of a run: `results.json` (every figure with its goal and before value) and `results.md`.

The before values come from `baseline.json`: `{"source": text, "figures":
{id: {"value", "unit", "note"}}}`, the figures of an earlier version that are
comparable with this one's. Explanations are in `benchmarks/README.md`, not here.
"""

import datetime
import importlib.metadata
import json
import os

from benchmarks import goals

PACKAGES = ("tensorflow", "apache-beam", "tensorflow-transform", "av")


def describe_machine(load_at_start):
    """Date, cores, CPU model, load at the start and now, library versions (no TensorFlow import)."""
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        cpu = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), "unknown")
    return {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "cores": os.cpu_count(), "cpu": cpu,
            "load_average": [round(load_at_start, 2), round(os.getloadavg()[0], 2)],
            "versions": {package: importlib.metadata.version(package) for package in PACKAGES}}


def read_baseline(path):
    """(source text, {id: before figure}) of a baseline file; ("", {}) when there is none."""
    if not path or not os.path.exists(path):
        return "", {}
    with open(path, encoding="utf-8") as handle:
        baseline = json.load(handle)
    if "figures" not in baseline or not isinstance(baseline["figures"], dict):
        raise ValueError(f"{path}: expected {{'source': ..., 'figures': {{id: {{'value', 'unit'}}}}}}")
    return baseline.get("source", ""), baseline["figures"]


def format_value(value, unit):
    if value is None:
        return "not measured"
    if unit == "x":
        return f"{value:.3f}x" if value < 10 else f"{value:.0f}x"
    if unit in ("MiB", "ms"):
        return f"{value:,.0f} {unit}"
    return f"{value:,.1f} {unit}"


def complete(figures, before):
    """The figures in report order, each with goal, met and before; ValueError on an unknown id."""
    by_id = {}
    for line in figures:
        if line["id"] not in goals.FIGURES:
            raise ValueError(f"figure {line['id']!r} is not in benchmarks/goals.py's FIGURES")
        by_id[line["id"]] = dict(line, name=goals.FIGURES[line["id"]][0], goal=goals.goal_text(line["id"]),
                                 met=goals.meets(line["id"], line["value"]),
                                 before=before.get(line["id"], {}).get("value"))
    return [by_id[figure_id] for figure_id in goals.FIGURES if figure_id in by_id]


def markdown(figures, machine, settings, source, command, total_seconds):
    versions = ", ".join(f"{name} {version}" for name, version in machine["versions"].items())
    lines = ["# Benchmark results", "",
             f"{machine['date']}; {machine['cores']} cores ({machine['cpu']}), 1-minute load average "
             f"{machine['load_average'][0]} at the start, {machine['load_average'][1]} at the end; {versions}.",
             f"`{command}` took {total_seconds / 60:.1f} min. CNN weights: random (offline); speed does not "
             f"depend on them. Settings: `{json.dumps(settings)}`.",
             "What each figure means, how it is measured and why its goal: [README.md](README.md).",
             f"Before: {source or 'no baseline'}.", "",
             "| id | figure | value | reference | goal | met | before | detail |",
             "|---|---|---|---|---|---|---|---|"]
    for line in figures:
        met = {True: "yes", False: "**no**", None: ""}[line["met"]]
        before = "" if line["before"] is None else format_value(line["before"], line["unit"])
        lines.append(f"| {line['id']} | {line['name']} | {format_value(line['value'], line['unit'])} | "
                     f"{line['reference']} | {line['goal']} | {met} | {before} | {line.get('detail', '')} |")
    missed = [line["id"] for line in figures if line["met"] is False]
    lines += ["", f"Goals missed: {', '.join(missed) if missed else 'none'}.", ""]
    return "\n".join(lines)


def write(results_dir, figures, settings, baseline_path, command, total_seconds, load_at_start):
    """Write results.json and results.md; their paths."""
    source, before = read_baseline(baseline_path)
    machine = describe_machine(load_at_start)
    figures = complete(figures, before)
    os.makedirs(results_dir, exist_ok=True)
    json_path, markdown_path = os.path.join(results_dir, "results.json"), os.path.join(results_dir, "results.md")
    with open(json_path, "w", encoding="utf-8") as handle:
        json.dump({"machine": machine, "settings": settings, "command": command, "total_seconds": total_seconds,
                   "before_source": source, "figures": figures}, handle, indent=1)
        handle.write("\n")
    with open(markdown_path, "w", encoding="utf-8") as handle:
        handle.write(markdown(figures, machine, settings, source, command, total_seconds))
    return json_path, markdown_path
