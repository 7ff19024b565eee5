"""The `kubeflow_gpu` ZenML orchestrator flavor (ZenML 0.92, kfp / kfp-kubernetes 2.17).

Modules:

* `flavor` - flavor, config (`compile_only`, ...) and settings (`orchestrator.kubeflow_gpu`).
* `orchestrator` - compiles a snapshot to KFP with per-step pod settings and GPUs; submits or only writes it.
* `k8s_config` - `KubernetesPodSettings` -> kfp-kubernetes calls (no ZenML client needed).
* `entrypoint` - step entrypoint that takes the KFP run id as a resolved task input.
* `schedule` - ZenML `Schedule` -> KFP recurring run (6-field cron) and its `.schedule.json`.
* `compile` - `compile_pipeline(...)` and the `python -m orchestrators.kubeflow_gpu.compile` CLI.
* `pipeline_ir` - parse a compiled YAML with kfp's protos (per-task DAG, image, env, GPUs, selectors, ...).
* `local_run` - execute a compiled YAML's tasks as local processes in DAG order.

This package imports nothing on purpose: `local_run` and `pipeline_ir` work without importing ZenML.
"""
