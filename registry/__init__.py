"""The model's life in MLflow: experiment tracking helpers, the pyfunc flavour of the model, registration with
the promotion gate, the `python -m registry.gate` CI command and the embedded local stack setup.

Names shared by the pipeline, the gate command and the tests live here.
"""

MODEL_NAME = "causal-lattice-transformer"
CHAMPION = "champion"
CHALLENGER = "challenger"
# MLflow's experiment (not the run's ExperimentConfig, not the seed's Exp-1..5) that all pipeline runs log
# into: one parent run per pipeline run, one nested run per step invocation.
MLFLOW_EXPERIMENT = "causal-lattice"
