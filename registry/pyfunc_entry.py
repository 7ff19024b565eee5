"""MLflow models-from-code entry point of the causal lattice pyfunc.

MLflow executes this file when the model is loaded (`mlflow.pyfunc.load_model`), so nothing is unpickled. The
`model` and `registry` packages travel with the logged model as `code_paths`.
"""

from mlflow.models import set_model

from registry.pyfunc import CausalLatticePyfunc

set_model(CausalLatticePyfunc())
