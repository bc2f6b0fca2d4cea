"""python -m model.ablation: evaluated model dirs -> one table by question group (the demo's last step)."""

import json
import os

from model import ablation, storage


def write_evaluation(model_dir, per_type, task="multiple_choice", split="test"):
    """M/eval/<split>.json in the layout model.evaluate writes (overall plus per question type)."""
    correct = sum(row["correct"] for row in per_type.values())
    questions = sum(row["questions"] for row in per_type.values())
    results = {"task": task, "split": split, "per_type": per_type,
               "overall": {"correct": correct, "questions": questions, "accuracy": correct / questions}}
    os.makedirs(os.path.join(model_dir, storage.EVAL_DIR))
    with open(os.path.join(model_dir, storage.EVAL_DIR, f"{split}.json"), "w", encoding="utf-8") as handle:
        json.dump(results, handle)


def test_groups_without_questions_get_no_column_and_the_rest_add_up(tmp_path, capsys):
    lstm, mean = str(tmp_path / "lstm"), str(tmp_path / "mean")
    write_evaluation(lstm, {"transition": {"correct": 33, "questions": 48}})
    write_evaluation(mean, {"transition": {"correct": 18, "questions": 48}})
    groups = tmp_path / "question_groups.json"
    groups.write_text(json.dumps({"order": ["transition", "size_change"], "single_frame": ["color"]}))
    output = tmp_path / "ablation.md"

    assert ablation.run(["--model_dir", f"lstm={lstm}", "--model_dir", f"mean={mean}",
                         "--question_groups", str(groups), "--output", str(output)]) == 0

    table = capsys.readouterr().out
    assert "| video encoder | order | all |" in table and "single_frame" not in table
    assert "| lstm | 68.8% (33/48) | 68.8% (33/48) |" in table
    assert "| mean | 37.5% (18/48) | 37.5% (18/48) |" in table
    assert output.read_text() == table.rstrip("\n") + "\n"


def test_a_model_dir_without_its_evaluation_says_what_to_run(tmp_path, capsys):
    assert ablation.run(["--model_dir", f"lstm={tmp_path}"]) == 2
    error = capsys.readouterr().err
    assert "model.evaluate" in error and "test.json" in error
