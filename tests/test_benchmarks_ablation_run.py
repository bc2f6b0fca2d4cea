"""benchmarks.ablation_run --quick: synthetic data -> pipeline -> every encoder on every kind -> the table."""

import json
import os

import pytest

from benchmarks import ablation_run
from pipeline import synthetic_kinds

DATA_SETS = (ablation_run.DEMO, ablation_run.DEMO_CHOICE, *synthetic_kinds.KINDS)


@pytest.mark.full  # 13 minutes on 2 cores: 30 trainings; make test-all runs it
def test_quick_run_writes_the_table_for_every_encoder_and_kind(tmp_path):
    output_dir = str(tmp_path)
    assert ablation_run.run(["--output_dir", output_dir, "--quick", "--seed", "4"]) == 0
    with open(os.path.join(output_dir, ablation_run.RESULTS_JSON), encoding="utf-8") as results_file:
        report = json.load(results_file)
    with open(os.path.join(output_dir, ablation_run.RESULTS_MARKDOWN), encoding="utf-8") as table_file:
        table = table_file.read()

    assert report["encoders"] == list(ablation_run.ENCODERS)
    assert report["seeds"] == {"data": 4, "training": 4, "cnn_weights": "random:0"}
    rows = {(row["kind"], row["group"]): row for row in report["rows"]}
    assert set(rows) == {(ablation_run.DEMO, "order"), (ablation_run.DEMO, "single_frame"),
                         (ablation_run.DEMO_CHOICE, "order")} | {(kind, kind) for kind in synthetic_kinds.KINDS}
    for (kind, _), row in rows.items():
        assert set(row["encoders"]) == set(ablation_run.ENCODERS)
        for values in row["encoders"].values():
            assert values["questions"] > 0 and 0.0 <= values["accuracy"] <= 1.0
            assert ("mse" in values) == (row["task"] == "count")
        expected_task = synthetic_kinds.KINDS[kind].task if kind in synthetic_kinds.KINDS else row["task"]
        assert row["task"] == expected_task
    assert rows[(ablation_run.DEMO_CHOICE, "order")]["task"] == "multiple_choice"
    for name in DATA_SETS:  # Every model was trained: its weights counted, its epochs timed.
        costs = report["costs"][name]
        assert set(costs) == set(ablation_run.ENCODERS)
        assert all(cost["parameters"] > 0 and cost["seconds_per_epoch"] > 0 for cost in costs.values())
        # The question-only model has no video weights, so it is the smallest.
        assert costs["none"]["parameters"] < min(costs[encoder]["parameters"] for encoder in ("lstm", "mean"))
        assert os.path.exists(os.path.join(output_dir, "models", name, "lstm", "eval", "test.json"))

    header = next(line for line in table.splitlines() if line.startswith("| task |"))
    assert header.split("|")[4:-1] == [f" {encoder} " for encoder in ablation_run.ENCODERS]
    for name in DATA_SETS:
        assert f"| {name}" in table
    assert "Goals:" in table and "random:0" in table and report["goals"]
