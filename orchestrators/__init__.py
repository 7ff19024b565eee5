"""Custom ZenML orchestrators for causal-lattice.

`orchestrators.kubeflow_gpu` holds the `kubeflow_gpu` flavor: ZenML's Kubeflow orchestrator with the defects
listed in docs/design.md §6 fixed (per-step pod settings and GPUs, `after()` with tasks, compile-only mode,
schedules as KFP recurring runs).
"""
