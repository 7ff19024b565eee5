"""embed_latent: Exp-2, t-SNE and PCA of the latent z with its silhouette."""

from typing import Annotated

from zenml import step

from model.artifacts import ProtocolOutcome, TrainedModel
from model.config import ExperimentConfig
from model.data.splits import DataSplits
from model.evaluation.latent_check import check_latent
from steps.support.runtime import begin_step
from steps.support.tracking import publish_outcome


@step
def embed_latent(
    trained_model: TrainedModel, data_splits: DataSplits, experiment: ExperimentConfig
) -> Annotated[ProtocolOutcome, "latent_result"]:
    """Exp-2 on the main model over the main split's test rows.

    Reads `trained_model`, `data_splits.main.test`, `evaluation.tsne_perplexity`, `train.seed` and
    `visualization.latent_tsne`. Writes and returns `latent_result`: the silhouette of z by label,
    `latent/z_tsne.png`, `z_pca.png`, `z_stat.json` and `z_stat.npz`.
    """
    begin_step(experiment)
    outcome = check_latent(
        trained_model.model,
        data_splits.main.test,
        experiment.evaluation.tsne_perplexity,
        experiment.train.seed,
    )
    if not experiment.visualization.latent_tsne:
        outcome.files.pop("latent/z_tsne.png")
    publish_outcome(experiment, outcome)
    return outcome
