"""The pipeline's step invocation ids for a configuration, without ZenML: the pipeline names its steps with
these, and the front door checks the run configuration's `steps:` block against them (a misspelt step name
would silently lose that step's settings, its GPU placement among them)."""

from __future__ import annotations

from model.config import ExperimentConfig
from model.data.splits import DataView, cohort_views

MAIN_TRAINING = "train"
# The steps that run once per pipeline run, each named after its step function.
ANALYSIS_STEPS = ("extract_attention", "embed_latent", "analyze_lattice", "measure_utility")
FIRST_STEP, CLOSING_STEPS = "load_data", ("repro_check", "subset_generalization", "report", "promote")


def repro_invocations(
    seeds: list[int], main_seed: int
) -> tuple[list[tuple[str, int]], list[tuple[str, str]]]:
    """Invocation ids and seeds of the repro trainings, and the same-seed pairs to compare.

    The main training is one half of the same-seed pair when its seed is among the repro seeds; otherwise a
    dedicated rerun of the main seed is added.
    """
    invocations = [(f"repro_seed_{seed}", seed) for seed in seeds]
    if main_seed not in seeds:
        invocations.append((f"repro_seed_{main_seed}", main_seed))
    return invocations, [(MAIN_TRAINING, f"repro_seed_{main_seed}")]


def cohort_invocations(subsets: list[str]) -> list[tuple[str, DataView]]:
    """Invocation ids and views of the per-cohort trainings: `subset_<g>` within cohort g, `logo_<g>` without."""
    return [
        (f"{'subset' if view.kind == 'group' else 'logo'}_{view.group}", view)
        for view in cohort_views(subsets)
    ]


def training_steps(config: ExperimentConfig) -> list[str]:
    """The invocation ids of every training of the run, the main one first."""
    repro, _ = repro_invocations(config.evaluation.repro_seeds, config.train.seed)
    cohorts = cohort_invocations(config.evaluation.subsets)
    return [MAIN_TRAINING, *(name for name, _ in repro), *(name for name, _ in cohorts)]


def step_names(config: ExperimentConfig) -> list[str]:
    """The invocation id of every step the pipeline runs for `config`."""
    return [FIRST_STEP, *training_steps(config), *ANALYSIS_STEPS, *CLOSING_STEPS]
