"""The science of causal-lattice: plain typed functions and torch modules, no ZenML or MLflow.

Units, each importing only those listed before it (tests/test_layering.py): `errors`, `markup` and `config`
(the leaves); `structure` (structure learning) and `data` (datasets, readers, validation, splits); `nn` (the
network); `artifacts` (the types passed between steps); `training`; `evaluation` (the seed document's protocol
checks); `gates` (promotion); `report`. The README's layout section maps every module.
"""
