"""Custom ZenML orchestrators for causal-lattice.

`orchestrators.kubeflow_gpu` holds the `kubeflow_gpu` flavor: ZenML's Kubeflow orchestrator with the defects
listed in docs/design.md §6 fixed (per-step pod settings and GPUs, `after()` with tasks, compile-only mode,
schedules as KFP recurring runs). `orchestrators.local_parallel` holds the `local_parallel` flavor, the local
stack's: ZenML's local orchestrator with the steps whose inputs are ready run side by side in worker processes.
"""
