"""Training: the training loop and its losses, the linear readout's start, device and thread settings, checkpoints, progress, memory limits and stop signals."""
