"""`python -m cli` is the `causal-lattice` console script."""

from cli.main import main

main()
