"""The one configuration model of the project: `ExperimentConfig` mirrors the `parameters.experiment` block of
`zenml_config.yaml`; every key is validated here (unknown keys are rejected) before any step runs. Model, data
and training code take the typed sub-models, never raw dicts or environment variables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from model.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)  # no NaN/inf setting


class LambdaConfig(_Strict):
    """Loss weights of docs/design.md §2.7 (the seed's III.2 defaults: docs/design.md#the-seed-document)."""

    causal: float = Field(default=0.5, ge=0)
    geometric: float = Field(default=0.3, ge=0)
    reg: float = Field(default=0.2, ge=0)


class ModelConfig(_Strict):
    """Architecture of the causal lattice transformer."""

    d_model: int = Field(default=64, ge=8)
    n_heads: int = Field(default=4, ge=1)
    n_blocks: int = Field(default=4, ge=1)
    d_latent: int = Field(default=32, ge=2)
    mlp_ratio: float = Field(default=2.0, gt=0)
    dropout: float = Field(default=0.0, ge=0, lt=1)
    # A = sigmoid(theta / tau) are the lattice's edge-inclusion probabilities; tau rescales the logits.
    lattice_temperature: float = Field(default=1.0, gt=0)
    # An edge is in the thresholded lattice when its probability reaches this value.
    lattice_threshold: float = Field(default=0.5, gt=0, lt=1)
    # The label is a lattice node; the prediction reads only its non-descendants (False, an ablation: every feature).
    label_node: bool = True
    # Which of the label's non-descendants the prediction reads ([CLS]'s attention and the readout): all of them,
    # or the label's parents in the lattice only, their tokens cut off from every other feature. Given its parents
    # the label is independent of its other non-descendants (docs/science.md, "Reading the lattice's parents
    # only" and "Two more training seeds": on the suite within a point of the causal ceiling, but a parent the
    # lattice misses is lost, 3-4 points on two seeds), so it is not the default.
    reads: Literal["non_descendants", "label_parents"] = "non_descendants"
    # Message passing reads each feature's k most probable parents (sparse, shared by the batch).
    top_k_parents: int = Field(default=8, ge=1)
    # Weight of log P (the causal prior) in the attention bias; 0 leaves only the lattice mask.
    prior_bias_weight: float = Field(default=1.0, ge=0)
    # k spectral coordinates per variable for causal RoPE (head dim must be divisible by 2k).
    rope_dims: int = Field(default=2, ge=1)
    rope_base: float = Field(default=10.0, gt=1)
    prior_temperature: float = Field(default=1.0, gt=0)
    # Utility threshold above which a block runs for a sample at inference.
    route_threshold: float = Field(default=0.5, gt=0, lt=1)
    # Initial router bias: sigmoid(2.0) = 0.88, so every block starts on (seed IV.4: uniform early).
    router_init_bias: float = 2.0
    # What the logits add up: the head on z and the linear readout of the readable features (the model), or one
    # of them alone (the ablations of issue 21: `readout_only` zeroes the head's logits, `head_only` has no
    # readout). docs/science.md has what each contributes.
    prediction: Literal["head_and_readout", "readout_only", "head_only"] = "head_and_readout"

    @model_validator(mode="after")
    def _check_dims(self) -> ModelConfig:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} must be divisible by n_heads={self.n_heads}")
        head_dim = self.d_model // self.n_heads
        if head_dim % (2 * self.rope_dims):
            raise ValueError(
                f"head dim d_model/n_heads={head_dim} must be divisible by 2*rope_dims={2 * self.rope_dims}"
            )
        return self


class StructureConfig(_Strict):
    """The structure phase (model/structure/fit.py): fitting the structural equations and the lattice.

    It runs before the predictor's epochs with its own optimiser: the lattice is the output of a structure
    learner, the predictor only reads it. Defaults were chosen on generated SCMs (docs/science.md) and are the
    same for every profile.
    """

    lr: float = Field(default=0.03, gt=0)
    # The lattice logits move slower than the mechanisms, so edges are decided on fitted mechanisms.
    edge_lr: float = Field(default=0.01, gt=0)
    batch_size: int = Field(default=256, ge=8)
    # Bernoulli mask samples per step, each on its own slice of the batch (lower-variance edge gradients).
    mask_samples: int = Field(default=4, ge=1)
    steps_per_round: int = Field(default=200, ge=1)
    # Rounds in which only the mechanisms learn, on the initial dense lattice.
    warmup_rounds: int = Field(default=0, ge=0)
    min_rounds: int = Field(default=8, ge=1)
    max_rounds: int = Field(default=60, ge=1)
    patience: int = Field(default=2, ge=1)  # rounds the same DAG holds, no edge moving over settle_tolerance
    settle_tolerance: float = Field(default=0.05, gt=0)
    # A settled round's mean NLL fell by at most this fraction of the last round's: a lattice that stopped
    # moving while the mechanisms still learn is not settled (F = 4,000 stopped on an empty graph while its NLL
    # fell 2 % a round, docs/science.md). Round-to-round noise on the default data is under 0.6 %.
    settle_nll_tolerance: float = Field(default=0.01, gt=0)
    # Edge probability at the start. Sparse: starting dense, mechanisms first regress on whole Markov blankets
    # and colliders come out wrong (a -> c <- b as the order a, c, b on three seeds, docs/science.md).
    init_probability: float = Field(default=0.2, gt=0, lt=1)
    # L1 weight on the edge probabilities, in nats per sample per edge: an edge stays when it explains more.
    sparsity: float = Field(default=0.03, ge=0)
    # Candidate edges at width (model/structure/candidates.py): each feature keeps its this-many most associated
    # features, and only those pairs can become edges; null: every pair is a candidate (the suite's widths).
    candidate_parents: int | None = Field(default=None, ge=1)
    # Edges the fit leaves between this probability and the threshold are decided by refitting their child with
    # and without them (model/structure/edge_decisions.py); null: off (the suite and default run are recorded so).
    undecided_floor: float | None = Field(default=None, gt=0, lt=1)
    # Undecided parents tried per feature, most probable first: one joint refit of every feature per try.
    undecided_tries: int = Field(default=4, ge=1)
    # After those decisions, each feature -> feature edge is reversed when refitting both its nodes the other way
    # round lowers their score by more than `sparsity` (model/structure/edge_decisions.py); off: as recorded.
    edge_reversals: bool = False
    # L1 weight on the per-cohort mechanism changes (shifts, scales, the label's effect on its children).
    shift_sparsity: float = Field(default=0.01, ge=0)
    # Power-iteration steps per structure step for the spectral radius h(A) = ρ(A∘A) (model/structure/acyclicity.py),
    # each warm-started from the last step's eigenvectors.
    power_iterations: int = Field(default=10, ge=1)
    rho_init: float = Field(default=0.01, gt=0)
    rho_growth: float = Field(default=10.0, gt=1)
    rho_max: float = Field(default=1e8, gt=0)
    rho_progress: float = Field(default=0.9, gt=0, le=1)  # rho grows when h fell less than to this share
    grad_clip: float = Field(default=10.0, gt=0)
    # Refit steps per candidate move of the label-edge search (model/structure/label_edges.py); 0: off.
    orientation_steps: int = Field(default=200, ge=0)
    task_gradient: bool = False  # ablation: the task loss writes into the lattice in the predictor phase
    acyclicity: bool = True  # False (ablation): no acyclicity schedule and no final cycle breaking


class TrainConfig(_Strict):
    """Optimisation settings; defaults are the seed's (III.2)."""

    seed: int = Field(default=42, ge=0, lt=2**32)  # what NumPy, scikit-learn and torch all take
    batch_size: int = Field(default=64, ge=2)
    epochs: int = Field(default=50, ge=1)
    optimizer: Literal["AdamW"] = "AdamW"
    # auto = CUDA when available (the GPU nodes of the production stack), else CPU.
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # auto: bf16 autocast on CUDA, fp32 on the CPU (the bit-exact reference). fp32 / bf16 force one.
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    # auto: the blocks run under torch.compile on CUDA (eager on the CPU: compiling costs more than it saves).
    compile: Literal["auto", "on", "off"] = "auto"
    lr: float = Field(default=1e-4, gt=0, le=1.0)  # AdamW above 1 only diverges: refused up front
    weight_decay: float = Field(default=0.01, ge=0)
    grad_clip: float = Field(default=1.0, gt=0)
    lambdas: LambdaConfig = LambdaConfig()
    utility_cost: float = Field(default=1.0, ge=0)  # weight of the router compute cost inside lambda_reg
    # Weight of the cross-cohort V-REx penalty inside the lambda_causal term (used when groups exist). It is
    # 0 for the first `invariance_warmup_epochs` and reaches its weight linearly over `invariance_ramp_epochs`.
    invariance: float = Field(default=1.0, ge=0)
    invariance_warmup_epochs: int = Field(default=2, ge=0)
    invariance_ramp_epochs: int = Field(default=5, ge=0)
    # Weight of the cross-entropy of a linear classifier of z alone (`latent_head`), beside the task loss. Without
    # it the readout, which starts at the logistic-regression fit, explains the label's linear part and leaves
    # the transformer only a residual that no single feature correlates with (a product of two causes): its
    # gradient is about zero, and the head learned nothing (docs/science.md, issue 21: seed configuration on the
    # default SCM, accuracy 0.816 without, 0.893 with; logistic regression on the readable features 0.813).
    latent_supervision: float = Field(default=1.0, ge=0)
    # Weight of z's within-class scatter over its total scatter (model/training/losses.py): the latent head's
    # cross-entropy separates the class means along one direction but leaves each class spread out along it, so
    # Exp-2's silhouette of z stays near that of the label's logit. Off: on the suite, weights 0.3-30 raised the
    # silhouette by 0.09-0.15 and widened the gap to the causal ceiling from 2.5 to 2.9-3.8 points
    # (docs/science.md, "z's within-class scatter as a training term").
    latent_compactness: float = Field(default=0.0, ge=0)
    # KL and Dirichlet terms per step: `kl_rows` query rows of at most `kl_samples` (strided) rows of the batch.
    kl_rows: int = Field(default=64, ge=1)
    kl_samples: int = Field(default=64, ge=1)
    checkpoint_every: int = Field(default=5, ge=0)  # after the structure phase and every N epochs; 0: off
    # CPU threads of each step's numeric work, capped by the cgroup CPU quota (model/training/threads.py: why fixed, why 1).
    threads: Annotated[int, Field(ge=1)] | Literal["auto"] = 1
    # Data-parallel ranks of one training (docs/design.md, "Data-parallel training"): on CUDA one rank per GPU
    # (NCCL), `auto` = every GPU the pod has; on the CPU N gloo ranks (`auto`: one). 1 is the one-device path.
    devices: Annotated[int, Field(ge=1, le=64)] | Literal["auto"] = 1
    structure: StructureConfig = StructureConfig()

    @model_validator(mode="after")
    def _check_devices(self) -> TrainConfig:
        # Every rank takes a share of each batch's rows (of each mask slice's rows in the structure phase).
        if isinstance(self.devices, int) and self.devices > 1:
            slice_rows = self.structure.batch_size // self.structure.mask_samples
            if self.devices > min(self.batch_size, slice_rows):
                raise ValueError(
                    f"train.devices={self.devices} exceeds the rows a rank gets: train.batch_size "
                    f"{self.batch_size} and train.structure.batch_size / mask_samples {slice_rows} must each be "
                    "at least the device count; raise them or lower train.devices"
                )
        return self


# 10,000 rows of a whole transcriptome (20,000 genes and a few biomarkers: bench/structure_scale.py, issue 22):
# 840 MB of float32.
MAX_CELLS = 210_000_000


class SyntheticDataConfig(_Strict):
    """The embedded synthetic pan-cancer structural causal model (docs/design.md §3, model/data/generator.py).

    Genes on a random DAG (Erdős–Rényi or scale-free) with linear or nonlinear mechanisms; cohorts differ by
    shifted root means and a few changed mechanisms; a label caused by `n_causal_genes` genes; downstream
    biomarkers caused by the label whose strength differs by cohort and whose sign flips in `flip_group`.
    """

    kind: Literal["synthetic"] = "synthetic"
    n_samples: int = Field(default=1500, ge=60, le=1_000_000)
    n_genes: int = Field(default=16, ge=4, le=20_000)
    graph: Literal["erdos_renyi", "scale_free"] = "erdos_renyi"
    # Erdős–Rényi edge probability; scale-free: about p * (n_genes - 1) / 2 links per gene (same edge count).
    edge_probability: float = Field(default=0.2, gt=0, lt=1)
    mechanism: Literal["nonlinear", "linear"] = "nonlinear"
    groups: list[str] = Field(default_factory=lambda: ["lung", "colon", "breast"], min_length=2)
    root_shift: float = Field(default=0.8, ge=0)  # std of each root gene's mean shift between cohorts
    # Genes (with parents) whose mechanism strength differs between cohorts.
    n_changed_mechanisms: int = Field(default=2, ge=0)
    n_causal_genes: int = Field(default=3, ge=1)
    # Weight of each standardised causal gene in the label's logit. At 3.0 logistic regression on the three
    # parents reaches about 0.88 (2.0: 0.86): leave-one-cohort-out then measures reliance on causes, not noise.
    label_strength: float = Field(default=3.0, gt=0)
    # A term of the label's logit that a linear reader of its causes cannot represent (issue 21), the same in
    # every cohort: `interaction` adds the product of the first two causes, `sine` sin(2x) and `abs` |x| of the
    # first cause, each at `label_nonlinear_strength` (None: twice label_strength, where logistic regression on the
    # causes falls 5-10 points below the best nonlinear reader of them: scratch runs on the default SCM). `none`: linear.
    label_nonlinearity: Literal["none", "interaction", "sine", "abs"] = "interaction"
    label_nonlinear_strength: float | None = Field(default=None, gt=0)
    n_biomarkers: int = Field(default=4, ge=0, le=1_000)
    # The cohort in which biomarkers' link to the label changes sign (the hard leave-one-cohort-out case).
    flip_group: str | None = "breast"
    # How many biomarkers flip there; None: all but one (one biomarker keeps its sign everywhere).
    n_flipped_biomarkers: int | None = Field(default=None, ge=0)
    seed: int = Field(default=7, ge=0, lt=2**32)

    @model_validator(mode="after")
    def _check_counts(self) -> SyntheticDataConfig:
        if self.n_causal_genes > self.n_genes:
            raise ValueError(f"n_causal_genes={self.n_causal_genes} exceeds n_genes={self.n_genes}")
        if self.label_nonlinearity == "interaction" and self.n_causal_genes < 2:
            raise ValueError(
                "label_nonlinearity 'interaction' needs n_causal_genes >= 2 (a product of two causes)"
            )
        if (cells := self.n_samples * (self.n_genes + self.n_biomarkers)) > MAX_CELLS:  # before generating
            raise ValueError(f"{cells:,} cells (rows x columns) over {MAX_CELLS:,}: lower n_samples/n_genes")
        if self.n_flipped_biomarkers is not None and self.n_flipped_biomarkers > self.n_biomarkers:
            raise ValueError(
                f"n_flipped_biomarkers={self.n_flipped_biomarkers} exceeds n_biomarkers={self.n_biomarkers}"
            )
        if len(set(self.groups)) != len(self.groups):
            raise ValueError(f"groups {self.groups} repeat a name")
        if self.flip_group is not None and self.flip_group not in self.groups:
            raise ValueError(f"flip_group {self.flip_group!r} is not one of groups {self.groups}")
        return self

    @property
    def flipped_biomarkers(self) -> int:
        if self.n_flipped_biomarkers is not None:
            return self.n_flipped_biomarkers
        return max(1, self.n_biomarkers - 1) if self.n_biomarkers else 0


class TableDataConfig(_Strict):
    """A user's CSV or Parquet table."""

    kind: Literal["table"] = "table"
    path: Path
    feature_columns: list[str] | None = None
    label_column: str | None = None
    group_column: str | None = None
    edges_path: Path | None = None


class BreastCancerDataConfig(_Strict):
    """`sklearn.datasets.load_breast_cancer`, shipped with scikit-learn (no download)."""

    kind: Literal["breast_cancer"] = "breast_cancer"


DataSource = SyntheticDataConfig | TableDataConfig | BreastCancerDataConfig


class SplitConfig(_Strict):
    test_fraction: float = Field(default=0.25, gt=0, lt=0.9)
    seed: int = Field(default=0, ge=0, lt=2**32)
    min_group_size: int = Field(default=20, ge=4)  # rows a group needs to be split into train and test


class EvaluationConfig(_Strict):
    # The main model's held-out test metrics that the run summary's headline shows (the seed's Evaluator list).
    metrics: list[Literal["accuracy", "kl_causal", "laplacian", "utility_entropy"]] = [
        "accuracy",
        "kl_causal",
        "laplacian",
        "utility_entropy",
    ]
    repro_seeds: list[Annotated[int, Field(ge=0, lt=2**32)]] = [42, 43, 44, 45, 46]
    # Cohorts for per-group retraining and leave-one-group-out; [] for data without a group column.
    subsets: list[str] = ["lung", "colon", "breast"]
    tsne_perplexity: float = Field(default=30.0, gt=1)


class VisualizationConfig(_Strict):
    latent_tsne: bool = True
    attention_heatmap: bool = True
    graph_structure: bool = True


class GateConfig(_Strict):
    """Promotion gates of docs/design.md §5."""

    max_seed_accuracy_std: float = 0.015
    max_subset_accuracy_gap: float = 0.05
    min_flops_reduction: float = 0.27
    max_routed_accuracy_drop: float = 0.01
    # A test accuracy of 1.000 needs logistic regression within this margin of it (model/gates/leakage.py).
    perfect_accuracy_margin: float = Field(default=0.05, ge=0, le=1)
    # The seed's reference values (VII), reported beside the measured ones.
    reference_kl_causal: float = 0.021
    reference_silhouette: float = 0.71
    reference_degree_variance: float = 0.18


class RetrainingConfig(_Strict):
    """Scheduled retraining (pipelines/retrain.py): retrain only when fresh data drifted from the champion's."""

    drift_share_threshold: float = Field(default=0.25, gt=0, le=1)


class ReportConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # The summary's language. en or ja: reports/summary.{md,html} in that language; both: English there and
    # Japanese (the seed's own terms and VII headings) in reports/summary.ja.{md,html}. One set of numbers.
    language: Literal["en", "ja", "both"] = "both"


class ExperimentConfig(_Strict):
    """Everything one pipeline run needs; mirrors `parameters.experiment` in zenml_config.yaml."""

    profile: str = "seed"
    data: DataSource = Field(default_factory=SyntheticDataConfig, discriminator="kind")
    split: SplitConfig = SplitConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    visualization: VisualizationConfig = VisualizationConfig()
    report: ReportConfig = ReportConfig()
    gates: GateConfig = GateConfig()
    retraining: RetrainingConfig = RetrainingConfig()
    results_dir: Path = Path("results")


# Keys that were renamed: the block router's on/off decisions are "routes", a "gate" is a promotion gate.
RENAMED_KEYS = {"gate_threshold": "route_threshold", "max_gated_accuracy_drop": "max_routed_accuracy_drop"}


def saved_model_config(values: dict[str, Any]) -> ModelConfig:
    """The `ModelConfig` of a saved model, whichever version saved it: a renamed key is read under its current
    name (a user's configuration is told the new name instead, `format_validation_error`)."""
    return ModelConfig.model_validate({RENAMED_KEYS.get(key, key): value for key, value in values.items()})


def format_validation_error(error: ValidationError, prefix: str = "") -> str:
    """Render pydantic errors as `key.path: problem` lines a user can act on."""
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"])
        where = f"{prefix}{key}" if key else prefix.rstrip(".") or "<root>"
        renamed = RENAMED_KEYS.get(str(item["loc"][-1])) if item["loc"] else None
        if item["type"] == "extra_forbidden" and renamed:
            lines.append(f"{where}: renamed to {renamed} (use that name)")
        elif item["type"] == "extra_forbidden":
            lines.append(f"{where}: unknown key (remove it or check its spelling)")
        else:
            lines.append(f"{where}: {item['msg']} (got {repr(item.get('input'))[:80]})")
    return "; ".join(lines)


def parse_experiment(raw: dict[str, Any], prefix: str = "parameters.experiment.") -> ExperimentConfig:
    """Validate a raw mapping into an ExperimentConfig, raising ConfigError naming each bad key."""
    try:
        return ExperimentConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError("invalid configuration: " + format_validation_error(error, prefix)) from None
