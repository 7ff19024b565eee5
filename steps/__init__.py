"""ZenML steps: thin wrappers that validate inputs, call the science in `model/`, write the run's files and
return typed artifacts. One module per step; import a step from its module (`from steps.train import train`)."""

import materializers  # noqa: F401  (registers the project's materializers for the artifact types)
