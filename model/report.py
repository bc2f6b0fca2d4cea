"""Evaluation reports: the Markdown table and the PNG plots (matplotlib, Agg backend).

  accuracy_table(results)               Markdown: one row per question type, then all
  plot_accuracy_by_type(results, path)  bar chart of accuracy per question type
  plot_training_curves(history, path)   loss and accuracy per epoch, train and validation
"""

OVERALL_ROW = "all"


def _percent(value):
    return f"{100.0 * value:.1f}%"


def accuracy_table(results):
    """Markdown table of per-type and overall accuracy, with question counts."""
    lines = [f"Accuracy on the {results['split']} split ({results['weights']})", "",
             "| question type | questions | correct | accuracy |",
             "|---|---:|---:|---:|"]
    for question_type, row in sorted(results["per_type"].items()):
        lines.append(f"| {question_type} | {row['questions']} | {row['correct']} | {_percent(row['accuracy'])} |")
    overall = results["overall"]
    lines.append(f"| **{OVERALL_ROW}** | **{overall['questions']}** | **{overall['correct']}** | "
                 f"**{_percent(overall['accuracy'])}** |")
    lines.append("")
    lines.append(f"{results['out_of_vocabulary']} question(s) have an answer outside the answer "
                 f"vocabulary; they count as wrong.")
    return "\n".join(lines) + "\n"


def _pyplot():
    import matplotlib  # Imported here: choosing the backend is a side effect.
    matplotlib.use("Agg")
    from matplotlib import pyplot
    return pyplot


def plot_accuracy_by_type(results, path):
    pyplot = _pyplot()
    types = sorted(results["per_type"])
    accuracies = [results["per_type"][name]["accuracy"] for name in types]
    counts = [results["per_type"][name]["questions"] for name in types]
    figure, axes = pyplot.subplots(figsize=(max(4.0, 1.1 * len(types) + 2), 3.5))
    bars = axes.bar(types, accuracies, color="#4c72b0")
    for bar, count in zip(bars, counts):
        axes.annotate(f"n={count}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                      ha="center", va="bottom", fontsize=8)
    axes.axhline(results["overall"]["accuracy"], color="#c44e52", linestyle="--",
                 label=f"all: {_percent(results['overall']['accuracy'])}")
    axes.set_ylim(0, 1.1)
    axes.set_ylabel("accuracy")
    axes.set_title(f"{results['split']} accuracy per question type")
    axes.legend(loc="lower right")
    pyplot.setp(axes.get_xticklabels(), rotation=30, ha="right")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)


def plot_training_curves(history, path):
    """Loss and accuracy per epoch from M/history.json; False if there is no history."""
    epochs = history.get("epochs", [])
    if not epochs:
        return False
    pyplot = _pyplot()
    figure, axes = pyplot.subplots(1, 2, figsize=(9, 3.5))
    numbers = [entry["epoch"] for entry in epochs]
    for axis, metric in zip(axes, ("loss", "accuracy")):
        for key, label in ((metric, "train"), (f"val_{metric}", "validation")):
            values = [entry.get(key) for entry in epochs]
            if any(value is not None for value in values):
                axis.plot(numbers, values, marker="o", label=label)
        axis.set_xlabel("epoch")
        axis.set_ylabel(metric)
        axis.legend()
    figure.suptitle("training history")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return True
