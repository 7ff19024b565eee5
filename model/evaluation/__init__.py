"""The seed's verification protocol: one module per check (attention, latent, lattice, utility, reproducibility, cohorts), the baselines, metrics, figure data and the protocol's PNG figures."""
