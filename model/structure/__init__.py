"""Structure learning: the structural equations over the features, their fit under an acyclicity constraint, graph operations on adjacency tensors and the label-edge search."""
