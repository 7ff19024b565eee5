"""Set up and activate the `causal-lattice-local` ZenML stack with an MLflow tracker and model registry.

`make run` calls it before the pipeline (with ZENML_CONFIG_PATH=.state/zenml):

    python scripts/setup_local_stack.py [--state-dir .state] [--tracking-uri URI] [--config zenml_config.yaml]

Without MLFLOW_TRACKING_URI it uses the embedded SQLite store .state/mlflow.db; see registry/local_stack.py.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from registry.local_stack import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
