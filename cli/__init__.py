"""The `causal-lattice` console script (`cli.main`) and what only the command line needs: the compile-only
Kubeflow stack (`cli.compile`), stack registration (`cli.stacks.upsert_stack`) and the retraining decision
(`cli.retrain`)."""
