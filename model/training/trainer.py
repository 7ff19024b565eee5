"""Training: a plain function from data and typed configs to a trained model and its history
(docs/design.md §2; the seed's VI.2, docs/design.md#the-seed-document)."""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable

import torch
from torchmetrics.classification import MulticlassAccuracy, MulticlassAUROC, MulticlassF1Score

from model.artifacts import EpochRecord, FitResult
from model.config import ModelConfig, TrainConfig
from model.data.batching import _tensors, balanced_batches, group_codes, kl_query_rows, shuffled_batches
from model.data.tables import Dataset
from model.errors import TrainingDivergedError, TrainingOutOfMemoryError, TrainingStopped
from model.nn.transformer import CausalLatticeTransformer
from model.structure.fit import fit_structure, log_structure_round
from model.training.checkpoint import TrainingCheckpoint
from model.training.data_parallel import ONE_DEVICE, DataParallel
from model.training.device import (
    activation_memory_budget,
    clip_and_measure,
    numerics_for,
    resolve_device,
    seed_everything,
)
from model.training.losses import invariance_weight, predictor_loss, regulariser_stride
from model.training.metrics import (
    LaplacianEnergy,
    UtilityEntropy,
    epoch_accuracy,
    kl_causal,
    utility_entropy,
)

logger = logging.getLogger("causal_lattice.train")


def log_epoch(record: EpochRecord, epochs: int) -> None:
    accuracy = "" if record.train_accuracy is None else f" acc={record.train_accuracy:.3f}"
    logger.info(
        "epoch %d/%d loss=%.4f%s util=%s (%.1fs)",
        record.epoch,
        epochs,
        record.loss["total"],
        accuracy,
        "/".join(f"{u:.2f}" for u in record.utility_per_block),
        record.seconds,
    )


def out_of_memory_message(
    dataset: Dataset,
    model_config: ModelConfig,
    train_config: TrainConfig,
    device: torch.device,
    error: Exception,
) -> str:
    """One line: the training's size (features, rows, batch, precision, width) and what to lower."""
    bf16 = train_config.precision == "bf16" or (train_config.precision == "auto" and device.type == "cuda")
    asked = re.search(r"Tried to allocate ([\d.]+ \w+)", str(error))
    return (
        f"CUDA out of memory{f' (allocating {asked.group(1)})' if asked else ''} training on {dataset.n_features} features and "
        f"{dataset.features.shape[0]} rows with train.batch_size {train_config.batch_size}, precision "
        f"{'bf16' if bf16 else 'fp32'} (train.precision: {train_config.precision}), model.d_model "
        f"{model_config.d_model} x {model_config.n_blocks} blocks, train.structure.batch_size "
        f"{train_config.structure.batch_size} x mask_samples {train_config.structure.mask_samples}: lower "
        "train.batch_size (the predictor) or train.structure.mask_samples and batch_size (the structure phase), "
        f"{'' if bf16 else 'set train.precision: bf16, '}select fewer features (data.feature_columns), or use a "
        "GPU with more memory; then rerun (finished steps are reused)"
    )


def train_model(
    dataset: Dataset,
    model_config: ModelConfig,
    train_config: TrainConfig,
    progress: Callable[[EpochRecord, int], None] | None = log_epoch,
    structure_progress: Callable[[dict[str, float]], None] | None = log_structure_round,
    checkpoint: TrainingCheckpoint | None = None,
    stop_requested: Callable[[], str | None] | None = None,
    ranks: DataParallel = ONE_DEVICE,
    device: torch.device | None = None,
) -> FitResult:
    """Train a causal lattice transformer on standardised `dataset` (the training split).

    Two phases. The structure phase fits the structural equations and the lattice (model/structure/fit.py) on
    the rows, the label and the cohorts. The predictor phase starts the linear readout at a logistic regression
    on the readable features, then trains everything else for `train_config.epochs` on the lattice, read
    detached: the task never writes into the lattice (unless `train_config.structure.task_gradient`).

    Seeds everything from `train_config.seed`, so the same seed and config give bit-identical weights and
    metrics on CPU. Raises TrainingDivergedError on a NaN/Inf loss (checked once per epoch).
    With a `checkpoint`, the training state is saved after the structure phase and every
    `train_config.checkpoint_every` epochs, and a training that finds one resumes from it (model/training/checkpoint.py).
    With checkpoints on and `stop_requested` returning a signal's name (SIGTERM: a preempted pod, a scheduler's
    time limit), the training saves a checkpoint at the end of the running epoch and raises TrainingStopped, so
    it ends within a grace period and the next attempt resumes. CUDA running out of memory raises
    TrainingOutOfMemoryError naming the training's size and what to lower.
    With `ranks` of more than one (model/training/launch.py starts them, on `device`), every rank runs this
    function on its share of each batch; rank 0 alone is given `progress`, `checkpoint` and `stop_requested`.
    """
    device = device or resolve_device(train_config.device)
    with numerics_for(device):
        try:
            return _fit(
                dataset,
                model_config,
                train_config,
                device,
                progress,
                structure_progress,
                checkpoint,
                stop_requested,
                ranks,
            )
        except torch.OutOfMemoryError as error:
            message = out_of_memory_message(dataset, model_config, train_config, device, error)
            raise TrainingOutOfMemoryError(message) from None


def _fit(
    dataset: Dataset,
    model_config: ModelConfig,
    train_config: TrainConfig,
    device: torch.device,
    progress: Callable[[EpochRecord, int], None] | None,
    structure_progress: Callable[[dict[str, float]], None] | None,
    checkpoint: TrainingCheckpoint | None = None,
    stop_requested: Callable[[], str | None] | None = None,
    ranks: DataParallel = ONE_DEVICE,
) -> FitResult:
    seed_everything(train_config.seed)
    x, y = _tensors(dataset)
    codes, cohort_names = group_codes(dataset)
    x = x.to(device)
    y = None if y is None else y.to(device)
    groups = torch.from_numpy(codes).to(device)
    n_groups = max(len(cohort_names), 1)
    model = CausalLatticeTransformer(
        dataset.feature_names, dataset.n_classes if y is not None else 0, model_config, n_groups
    ).to(device)
    # The shuffling and sampling generator lives on the CPU, so the draws are the same on every device.
    generator = torch.Generator().manual_seed(train_config.seed)
    structure = train_config.structure
    sem = model.lattice_encoder.sem
    resumed = ranks.from_writer(checkpoint.load() if checkpoint is not None else None)
    if resumed is not None:
        fit = resumed.restore_model(model, generator)
    else:
        fit = fit_structure(
            sem,
            x,
            y if sem.n_classes else None,
            groups,
            structure,
            model_config.lattice_threshold,
            generator,
            structure_progress,
            ranks if ranks.world_size > 1 else None,
        )
        model.refresh_lattice()
        if y is not None:  # where the predictor's loss (at its full V-REx weight) would put a linear model
            model.initialise_readout(x, y, groups, train_config.lambdas.causal * train_config.invariance)
        if checkpoint is not None:
            checkpoint.save(0, model, None, generator, fit, [])
    ranks.copy_writer_state(model, generator)

    task_gradient = structure.task_gradient
    named = [(n, p) for n, p in model.named_parameters() if not n.startswith("lattice_encoder.sem.")]
    if task_gradient:
        named.append(("lattice_encoder.sem.edge_logits", sem.edge_logits))
    names = [n for n, _ in named]
    parameters = [p for _, p in named]
    optimizer = torch.optim.AdamW(  # fused on CUDA: one kernel per step, not one per parameter group op
        parameters, lr=train_config.lr, weight_decay=train_config.weight_decay, fused=device.type == "cuda"
    )
    n = x.shape[0]
    n_features = len(dataset.feature_names)
    kl_on = train_config.lambdas.causal > 0
    kl_count = min(train_config.kl_rows, n_features)
    balanced = len(cohort_names) > 1 and train_config.invariance > 0 and y is not None
    bf16 = train_config.precision == "bf16" or (train_config.precision == "auto" and device.type == "cuda")
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)
    compiled = train_config.compile == "on" or (train_config.compile == "auto" and device.type == "cuda")
    cuda_graphs = compiled and device.type == "cuda"
    if compiled:
        budget = 1.0
        if device.type == "cuda":
            budget = activation_memory_budget(
                train_config.batch_size,
                n_features + 1,
                model_config.d_model,
                model_config.n_blocks,
                torch.cuda.get_device_properties(device).total_memory,
            )
            logger.info("compiled blocks: activation memory budget %.2f", budget)
        model.meta_utility_layer.compile_blocks(cuda_graphs, budget)
    result = FitResult(model=model, structure=fit)
    first_epoch = 1
    if resumed is not None:
        first_epoch = resumed.restore_optimizer(optimizer) + 1
        result.history.extend(EpochRecord(**record) for record in resumed.history)
    for epoch in range(first_epoch, train_config.epochs + 1):
        started = time.perf_counter()
        model.train()
        weight = invariance_weight(train_config, epoch)
        batches = ranks.every_rank_has_rows(
            balanced_batches(codes, train_config.batch_size, generator)
            if balanced
            else shuffled_batches(n, train_config.batch_size, generator)
        )
        # One host-to-device copy per epoch for all steps' rows (a pageable copy per step would serialise them).
        step_rows = [
            ranks.shard(rows) for rows in torch.cat(batches).to(device).split([len(b) for b in batches])
        ]
        kl_rows = kl_query_rows(len(batches), n_features, kl_count, device, generator) if kl_on else []
        # Sums stay on the device and are read once per epoch: no host sync per step.
        loss_sums: dict[str, torch.Tensor] = {}
        grad_sums = torch.zeros(len(parameters), device=device)
        predictions: list[torch.Tensor] = []  # scored once per epoch: torchmetrics' update syncs on CUDA
        entropy = UtilityEntropy(model_config.n_blocks).to(device)
        for step, index in enumerate(step_rows):
            xb, yb = x[index], (y[index] if y is not None else None)
            rows = kl_rows[step] if kl_on else None
            if cuda_graphs:  # replays may reuse the last step's graph memory: its backward is done
                torch.compiler.cudagraph_mark_step_begin()
            edge_weight = sem.adjacency()[tuple(model.edge_index)] if task_gradient else None
            stride = regulariser_stride(len(index), train_config.kl_samples)
            with autocast:
                output = model(xb, weight_rows=rows, edge_weight=edge_weight, kl=True, kl_stride=stride)
                loss = predictor_loss(
                    output,
                    yb,
                    groups[index],
                    n_groups,
                    model.edge_index,
                    model.edge_weight if edge_weight is None else edge_weight,
                    train_config,
                    weight,
                    stride,
                )
            optimizer.zero_grad(set_to_none=True)
            loss.total.backward()
            ranks.average_gradients(parameters)
            grad_sums += clip_and_measure(parameters, train_config.grad_clip)
            optimizer.step()
            for key, value in {"total": loss.total, **loss.terms}.items():
                value = value.detach().float()
                loss_sums[key] = loss_sums[key] + value if key in loss_sums else value
            if output.logits is not None:
                predictions.append(output.logits.detach().argmax(dim=-1))
            entropy.update(output.utilities.float())
        steps = len(batches)
        loss_means = ranks.mean(torch.stack(list(loss_sums.values())))
        epoch_loss = {k: float(v) / steps for k, v in zip(loss_sums, loss_means, strict=True)}
        if not math.isfinite(epoch_loss["total"]):
            bad = [k for k, v in epoch_loss.items() if not math.isfinite(v)]
            raise TrainingDivergedError(
                f"loss became non-finite in epoch {epoch} (terms: {bad}); lower train.lr (now {train_config.lr})"
            )
        ranks.sync(entropy)
        mean_utility = entropy.mean_utility()
        if task_gradient:
            model.refresh_lattice()  # the task moved the lattice: re-derive what the predictor reads
        record = EpochRecord(
            epoch=epoch,
            loss=epoch_loss | {"invariance_weight": weight},
            train_accuracy=epoch_accuracy(predictions, y, step_rows, model.n_classes, ranks),
            utility_per_block=[float(u) for u in mean_utility],
            utility_entropy=float(utility_entropy(mean_utility)),
            grad_norms=dict(zip(names, (grad_sums / steps).tolist(), strict=True)),
            seconds=time.perf_counter() - started,
        )
        result.history.append(record)
        if progress is not None:
            progress(record, train_config.epochs)
        if checkpoint is not None:
            saved = checkpoint.after_epoch(
                epoch, train_config.epochs, model, optimizer, generator, fit, result.history
            )
            signal_name = stop_requested() if stop_requested is not None else None
            if signal_name and checkpoint.every > 0 and epoch < train_config.epochs:
                if not saved:
                    checkpoint.save(epoch, model, optimizer, generator, fit, result.history)
                raise TrainingStopped(signal_name, epoch, train_config.epochs)
    ranks.check_equal(model)
    if checkpoint is not None:
        checkpoint.clear()
    # Artifacts, analysis and serving run on the CPU, eagerly; the device only matters for training.
    model.meta_utility_layer.use_eager_blocks()
    model.cpu()  # the lattice-derived buffers move with it
    model.eval()
    return result


@torch.no_grad()
def evaluate_model(
    model: CausalLatticeTransformer, dataset: Dataset, dense: bool = False
) -> dict[str, float]:
    """Accuracy/AUROC/F1 (routed inference unless `dense`), the accuracy of the head's and of the readout's
    logits alone (`accuracy_head_part`, `accuracy_readout_part`), kl_causal (mean per-row KL of the dense pass's
    attention to the prior), laplacian, utility_entropy and the structural equations' NLL per node. Runs on
    the model's device."""
    model.eval()
    device = model.tokenizer.weight.device
    x, y = (None if t is None else t.to(device) for t in _tensors(dataset))
    assert x is not None
    output = model(x, dense=dense)
    results: dict[str, float] = {}
    if output.logits is not None and y is not None:
        classes = max(model.n_classes, 2)
        for name, metric in (
            ("accuracy", MulticlassAccuracy(num_classes=classes, average="micro")),
            ("auroc", MulticlassAUROC(num_classes=classes)),
            ("f1", MulticlassF1Score(num_classes=classes, average="macro")),
        ):
            results[name] = float(metric.to(device)(output.logits.float().softmax(-1), y))
        # What each part of the prediction carries on its own: the head on z, and the linear readout.
        for part in ("head", "readout"):
            logits = model.prediction_logits(x, output.z, parts=(part,))
            results[f"accuracy_{part}_part"] = float((logits.argmax(dim=-1) == y).float().mean())
    laplacian = LaplacianEnergy().to(device)
    laplacian.update(output.feature_states, model.edge_index, model.edge_weight)
    entropy = UtilityEntropy(model.config.n_blocks).to(device)
    entropy.update(output.utilities)
    results["kl_causal"] = kl_causal(model, x)
    results["laplacian"] = float(laplacian.compute())
    results["utility_entropy"] = float(entropy.compute())
    score = model.lattice_encoder.sem.score(
        x, y if model.n_classes else None, None, model.lattice_encoder.sem.hard_mask()
    )
    results["structure_nll"] = float(score.nll) / score.node_nll.numel()
    results["route_on_share"] = float(output.routes.mean())
    if not all(math.isfinite(v) for v in results.values()):
        raise TrainingDivergedError(f"evaluation produced non-finite metrics: {results}")
    return results
