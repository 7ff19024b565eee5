"""The `kubeflow_gpu` ZenML orchestrator flavor (ZenML 0.92, kfp / kfp-kubernetes 2.17).

* `flavor` - flavor, config (`compile_only`, ...) and settings (`orchestrator.kubeflow_gpu`).
* `orchestrator` - compiles a snapshot to KFP with per-step pod settings and GPUs; submits or only writes it.
* `k8s_config` - `KubernetesPodSettings` -> kfp-kubernetes calls.
* `entrypoint` - the step entrypoint: the KFP run id as a resolved task input, an optional working directory.
* `schedule` - ZenML `Schedule` -> KFP recurring run (6-field cron) and its `.schedule.json`.

Compiling without a server is `causal-lattice compile` (`cli/compile.py`); reading a compiled YAML and running
its tasks locally are development tools in `tools/`, outside the package.
"""
