"""Data: the `Dataset`, readers of users' files, validation before training, splits and data views, the synthetic generator, batching and drift."""
