"""What every step uses and no step is: the results folder, MLflow tracking, checkpoints, the step's runtime settings and the run's progress line."""
