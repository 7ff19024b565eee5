"""embed_latent: Exp-2, t-SNE and PCA of the latent z with its silhouette."""

from typing import Annotated

from zenml import step

from model.config import ExperimentConfig
from model.data import DataSplit
from model.experiments import ExperimentOutcome, latent_experiment
from model.trainer import TrainedModel
from steps.tracking import publish_outcome


@step
def embed_latent(
    trained_model: TrainedModel, data_split: DataSplit, experiment: ExperimentConfig
) -> Annotated[ExperimentOutcome, "latent_result"]:
    outcome = latent_experiment(
        trained_model.model, data_split.test, experiment.evaluation.tsne_perplexity, experiment.train.seed
    )
    if not experiment.visualization.latent_tsne:
        outcome.files.pop("latent/z_tsne.png")
    publish_outcome(experiment, outcome)
    return outcome
