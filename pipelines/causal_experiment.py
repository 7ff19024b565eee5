"""The seed's verification protocol as one ZenML pipeline.

load_data -> train -> {extract_attention, embed_latent, analyze_lattice, measure_utility}
          -> repro_seed_<s> (fan-out) -> repro_check
          -> subset_<g>, logo_<g> (fan-out) -> subset_generalization
          -> report
"""


from typing import Any

from zenml import pipeline

from model.config import parse_experiment
from steps import (
    analyze_lattice,
    embed_latent,
    extract_attention,
    load_data,
    measure_utility,
    repro_check,
    report,
    subset_generalization,
    train,
)

MAIN_TRAINING = "train"


def repro_invocations(seeds: list[int], main_seed: int) -> tuple[list[tuple[str, int]], list[tuple[str, str]]]:
    """Invocation ids and seeds of the repro trainings, and the same-seed pairs to compare.

    The main training is one half of the same-seed pair when its seed is among the repro seeds; otherwise a
    dedicated rerun of the main seed is added.
    """
    invocations = [(f"repro_seed_{seed}", seed) for seed in seeds]
    if main_seed not in seeds:
        invocations.append((f"repro_seed_{main_seed}", main_seed))
    return invocations, [(MAIN_TRAINING, f"repro_seed_{main_seed}")]


@pipeline(enable_cache=False)
def causal_experiment_pipeline(experiment: dict[str, Any] | None = None) -> None:
    """`experiment` is the `parameters.experiment` block of zenml_config.yaml, validated before any step runs."""
    config = parse_experiment(experiment or {})
    dataset, data_split = load_data(config)
    main_model = train(dataset, data_split, config, view="main", id=MAIN_TRAINING)
    attention = extract_attention(main_model, data_split, config)
    latent = embed_latent(main_model, data_split, config)
    lattice, _ = analyze_lattice(main_model, dataset, config)
    utility = measure_utility(main_model, data_split, config)

    invocations, pairs = repro_invocations(config.evaluation.repro_seeds, config.train.seed)
    repro_models = [train(dataset, data_split, config, view="main", seed=s, id=name) for name, s in invocations]
    reproducibility = repro_check(
        [main_model, *repro_models], [MAIN_TRAINING, *[name for name, _ in invocations]], pairs, config
    )

    subset_runs = [(f"{prefix}_{group}", f"{kind}:{group}") for group in config.evaluation.subsets
                   for prefix, kind in (("subset", "group"), ("logo", "logo"))]
    subset_models = [train(dataset, data_split, config, view=view, id=name) for name, view in subset_runs]
    subsets = subset_generalization(subset_models, [name for name, _ in subset_runs], dataset, config)

    report(config, main_model, dataset, attention, latent, lattice, utility, reproducibility, subsets)
