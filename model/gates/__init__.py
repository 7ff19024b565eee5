"""Promotion gates: their evaluation, the leakage checks, and the pure promotion decision against the champion."""
