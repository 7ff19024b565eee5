"""The seed's verification protocol as one ZenML pipeline.

load_data -> train -> {extract_attention, embed_latent, analyze_lattice, measure_utility}
          -> repro_seed_<s> (fan-out) -> repro_check
          -> subset_<g>, logo_<g> (fan-out) -> subset_generalization
          -> report -> promote (MLflow registry: `challenger`, and `champion` only when the gates allow)

The main seed's rerun (`repro_seed_<seed>`) runs as on another machine shape (another number of usable
CPUs), so Exp-5 compares the same seed across two thread settings. load_data makes every split once
(`data_splits`); each training invocation picks its data view from it.
On a stack with an MLflow experiment tracker every step but load_data logs to MLflow: one parent run per
pipeline run, one nested run per step invocation (registry.stack, registry.tracking). Every step's cache key
holds that tracker's target (tracking and registry URI): pointed at another MLflow, the whole run runs again
and logs there; rerun against the same one, it is cached.
"""

from typing import Any

from zenml import pipeline

from model.config import TableDataConfig, parse_experiment
from model.data.files import input_digest
from model.data.splits import MAIN_VIEW
from pipelines.plan import MAIN_TRAINING, cohort_invocations, repro_invocations
from registry.stack import active_mlflow_target, target_step_options, tracked_step_options
from steps.analyze_lattice import analyze_lattice as analyze_lattice_step
from steps.embed_latent import embed_latent as embed_latent_step
from steps.extract_attention import extract_attention as extract_attention_step
from steps.load_data import load_data
from steps.measure_utility import measure_utility as measure_utility_step
from steps.promote import promote as promote_step
from steps.report import report as report_step
from steps.repro_check import repro_check as repro_check_step
from steps.subset_generalization import subset_generalization as subset_generalization_step
from steps.support.run_progress import step_failed, step_finished
from steps.support.runtime import take_over_sigterm
from steps.train import train as train_step


# Every step ends with a line of the run's progress: steps done and left (steps/support/run_progress.py).
@pipeline(enable_cache=True, on_success=step_finished, on_failure=step_failed)
def causal_experiment_pipeline(experiment: dict[str, Any] | None = None) -> None:
    """`experiment` is the `parameters.experiment` block of zenml_config.yaml, validated before any step runs.

    Steps are cached (a run configuration's `enable_cache` can turn that off): a rerun on the same inputs reuses
    every step that finished, so a killed run is completed by running it again. The data files' content hash
    is an input of load_data, so a file changed in place is never a cache hit.
    """
    config = parse_experiment(experiment or {})
    take_over_sigterm()  # SIGTERM stops the run after the running step (steps/support/runtime.py)
    # With an MLflow tracker on the active stack every step after load_data is tracked (nested MLflow runs);
    # without one the options are empty and the steps run untracked. Its target is resolved once, here, and
    # is part of every step's cache key: a step that finished against another MLflow is not reused (it would
    # leave this one without its runs and model). load_data opens the MLflow parent run, so it carries it too.
    target = active_mlflow_target()
    tracked = tracked_step_options(target)
    load = load_data.with_options(**target_step_options(target))
    train = train_step.with_options(**tracked)
    extract_attention = extract_attention_step.with_options(**tracked)
    embed_latent = embed_latent_step.with_options(**tracked)
    analyze_lattice = analyze_lattice_step.with_options(**tracked)
    measure_utility = measure_utility_step.with_options(**tracked)
    repro_check = repro_check_step.with_options(**tracked)
    subset_generalization = subset_generalization_step.with_options(**tracked)
    report = report_step.with_options(**tracked)
    promote = promote_step.with_options(**tracked)
    data = config.data
    files = [data.path, data.edges_path] if isinstance(data, TableDataConfig) else []
    dataset, data_splits = load(config, input_digest=input_digest(files))
    main_model = train(data_splits, config, view=MAIN_VIEW, id=MAIN_TRAINING)
    attention = extract_attention(main_model, data_splits, config)
    latent = embed_latent(main_model, data_splits, config)
    lattice, _ = analyze_lattice(main_model, dataset, config)
    utility = measure_utility(main_model, data_splits, config)

    invocations, pairs = repro_invocations(config.evaluation.repro_seeds, config.train.seed)
    # The main seed's rerun resolves its threads as on another machine shape: Exp-5 shows whether that changes
    # the numbers (model/training/threads.py).
    reruns = {second for _, second in pairs}
    repro_models = [
        train(data_splits, config, view=MAIN_VIEW, seed=s, other_machine_shape=name in reruns, id=name)
        for name, s in invocations
    ]
    reproducibility = repro_check(
        [main_model, *repro_models], [MAIN_TRAINING, *[name for name, _ in invocations]], pairs, config
    )

    subset_runs = cohort_invocations(config.evaluation.subsets)
    subset_models = [train(data_splits, config, view=view, id=name) for name, view in subset_runs]
    subsets = subset_generalization(subset_models, [name for name, _ in subset_runs], data_splits, config)

    promotion_verdict, _, _, model_card = report(
        config, main_model, data_splits, attention, latent, lattice, utility, reproducibility, subsets
    )
    promote(main_model, promotion_verdict, data_splits, config, model_card)
