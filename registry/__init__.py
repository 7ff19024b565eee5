"""The model's life in MLflow: experiment tracking helpers, the pyfunc flavour of the model, registration with
the promotion gate, the `python -m registry.gate` CI command and the embedded local stack setup.

Names shared by the pipeline, the gate command and the tests live here.
"""

MODEL_NAME = "causal-lattice-transformer"
CHAMPION = "champion"
CHALLENGER = "challenger"
# The MLflow experiment all pipeline runs log into: one parent run per pipeline run, one nested run per step.
EXPERIMENT_NAME = "causal-lattice"
