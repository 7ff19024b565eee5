"""The run-level progress line the pipeline's step hooks log."""

from __future__ import annotations

from steps.support.run_progress import progress_line

PLAN = ["load_data", "train", "repro_seed_42", "extract_attention", "report", "promote"]


def test_counts_done_and_names_what_is_left() -> None:
    line = progress_line(PLAN, {"load_data"}, "train")
    assert "2/6 steps done (just finished: train)" in line
    assert line.endswith("left: repro_seed_42, extract_attention, report, promote")
    assert progress_line(PLAN, set(PLAN[:-1]), "promote").endswith(
        "6/6 steps done (just finished: promote); none left"
    )


def test_long_plans_are_shortened_and_a_failed_step_is_not_counted_done() -> None:
    plan = [f"step_{i}" for i in range(20)]
    line = progress_line(plan, {"step_0"}, "step_1", failed=True)
    assert "1/20 steps done (failed: step_1)" in line
    assert "left: step_1, step_2, step_3, step_4, step_5, step_6 and 13 more" in line
