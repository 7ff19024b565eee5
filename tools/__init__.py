"""Development and CI tools beside the package, not shipped in the wheel (`python -m tools --help`).

* `local_stack` - the embedded `causal-lattice-local` ZenML stack with MLflow on SQLite (what `make run` uses).
* `production_stack` - the production stack from the environment (what `k8s/register_stack.sh` runs).
* `kfp_ir` - read a compiled KFP YAML with kfp's protos (per-task DAG, image, env, GPUs, selectors, ...).
* `kfp_local_run` - execute a compiled YAML's tasks as local processes, each in its own working directory.
* `zenml_dag` - ZenML's own step DAG of a compiled YAML, to check the KFP translation against.

Each is a plain module; `tools/__main__.py` is their one command line. They use the package (`cli.stacks`,
`registry`, `orchestrators`); the package never imports them.
"""
