"""The network: feature tokens, lattice message passing, causal attention with lattice RoPE, the block router, the prediction head and readout, and saving and loading weights."""
