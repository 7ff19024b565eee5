"""The model's life in MLflow: which MLflow (`stack`: the one tracking-URI resolver, the active stack's tracker),
step tracking helpers, the pyfunc flavour of the model (`pyfunc`, what serving runs) and what a logged model
carries (`model_package`), registration with the promotion decision (the decision itself is
`model.gates.decision`: plain logic), and the gate that `causal-lattice gate` runs.

Names shared by the pipeline, the gate command and the tests live here.
"""

MODEL_NAME = "causal-lattice-transformer"
CHAMPION = "champion"
CHALLENGER = "challenger"
# MLflow's experiment (the only "experiment": the seed's Exp-1..5 are checks) that all pipeline runs log
# into: one parent run per pipeline run, one nested run per step invocation.
MLFLOW_EXPERIMENT = "causal-lattice"
