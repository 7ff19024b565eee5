"""ZenML steps: thin wrappers that validate inputs, call the science in `model/`, write the run's files and
return typed artifacts."""

import materializers  # noqa: F401  (registers the project's materializers for the artifact types)
from steps.analyze_lattice import analyze_lattice
from steps.embed_latent import embed_latent
from steps.extract_attention import extract_attention
from steps.load_data import load_data
from steps.measure_utility import measure_utility
from steps.repro_check import repro_check
from steps.report import report
from steps.subset_generalization import subset_generalization
from steps.train import train

__all__ = [
    "analyze_lattice",
    "embed_latent",
    "extract_attention",
    "load_data",
    "measure_utility",
    "repro_check",
    "report",
    "subset_generalization",
    "train",
]
