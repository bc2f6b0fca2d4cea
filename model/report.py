"""Evaluation reports: the Markdown table and the PNG plots (matplotlib, Agg backend).

  type_groups(types)                  NExT-QA's grouped types present among `types`
  results_table(results)              Markdown: one row per question type, the groups, then all
  plot_by_type(results, path)         bar chart of the metric per question type
  plot_training_curves(history, path) loss and the metric per epoch, train and validation
"""

OVERALL_ROW = "all"
# NExT-QA's paper groups its question types (TP is merged into TN by its own script).
TYPE_GROUPS = {"Causal": ("CW", "CH"), "Temporal": ("TN", "TP", "TC"), "Descriptive": ("DC", "DL", "DO")}


def type_groups(question_types):
    """{group: types} for the groups whose types occur among `question_types`."""
    present = set(question_types)
    return {group: types for group, types in TYPE_GROUPS.items() if present & set(types)}


def _percent(value):
    return f"{100.0 * value:.1f}%"


def _row(name, scores, count_task, bold=False):
    cells = [name, str(scores["questions"]), str(scores["correct"]), _percent(scores["accuracy"])]
    if count_task:
        cells.append(f"{scores['mse']:.3f}")
    if bold:
        cells = [f"**{cell}**" for cell in cells]
    return "| " + " | ".join(cells) + " |"


def results_table(results):
    """Markdown table of the per-type, per-group and overall scores, with question counts."""
    count_task = results.get("metric") == "mse"
    header = "| question type | questions | correct | accuracy |" + (" MSE |" if count_task else "")
    lines = [f"{results.get('task', 'open_ended').replace('_', ' ')} questions, {results['split']} split "
             f"({results['weights']})", "", header, "|---|---:|---:|---:|" + ("---:|" if count_task else "")]
    for question_type, scores in sorted(results["per_type"].items()):
        lines.append(_row(question_type, scores, count_task))
    for group, scores in results.get("groups", {}).items():
        lines.append(_row(f"{group} ({', '.join(TYPE_GROUPS[group])})", scores, count_task))
    lines.append(_row(OVERALL_ROW, results["overall"], count_task, bold=True))
    lines.append("")
    if count_task:
        lines.append("Count: mean squared error of the prediction clipped to the training range (the "
                     "benchmark's metric; lower is better); accuracy of the rounded prediction.")
    if "vocabulary_ceiling" in results and results["out_of_vocabulary"]:
        lines.append(f"Vocabulary ceiling: {_percent(results['vocabulary_ceiling'])} of these answers are in the "
                     f"answer vocabulary; the other {results['out_of_vocabulary']} count as wrong, so no model "
                     f"can score above the ceiling.")
    elif "vocabulary_ceiling" in results:
        lines.append("Vocabulary ceiling: 100.0%: every answer of this split is in the answer vocabulary.")
    return "\n".join(lines) + "\n"


def _pyplot():
    import matplotlib  # Imported here: choosing the backend is a side effect.
    matplotlib.use("Agg")
    from matplotlib import pyplot
    return pyplot


def plot_by_type(results, path):
    pyplot = _pyplot()
    metric = results.get("metric", "accuracy")
    types = sorted(results["per_type"])
    values = [results["per_type"][name][metric] for name in types]
    counts = [results["per_type"][name]["questions"] for name in types]
    figure, axes = pyplot.subplots(figsize=(max(4.0, 1.1 * len(types) + 2), 3.5))
    bars = axes.bar(types, values, color="#4c72b0")
    for bar, count in zip(bars, counts):
        axes.annotate(f"n={count}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                      ha="center", va="bottom", fontsize=8)
    overall = results["overall"][metric]
    axes.axhline(overall, color="#c44e52", linestyle="--",
                 label=f"all: {_percent(overall) if metric == 'accuracy' else f'{overall:.3f}'}")
    if metric == "accuracy":
        axes.set_ylim(0, 1.1)
    axes.set_ylabel(metric)
    axes.set_title(f"{results['split']} {metric} per question type")
    axes.legend(loc="lower right")
    pyplot.setp(axes.get_xticklabels(), rotation=30, ha="right")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)


def plot_training_curves(history, path):
    """Loss and the metrics per epoch from M/history.json; False if there is no history."""
    epochs = history.get("epochs", [])
    if not epochs:
        return False
    pyplot = _pyplot()
    metric = "mse" if any("mse" in entry for entry in epochs) else "accuracy"
    figure, axes = pyplot.subplots(1, 2, figsize=(9, 3.5))
    numbers = [entry["epoch"] for entry in epochs]
    for axis, name in zip(axes, ("loss", metric)):
        for key, label in ((name, "train"), (f"val_{name}", "validation")):
            values = [entry.get(key) for entry in epochs]
            if any(value is not None for value in values):
                axis.plot(numbers, values, marker="o", label=label)
        axis.set_xlabel("epoch")
        axis.set_ylabel(name)
        axis.legend()
    figure.suptitle("training history")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return True
