# Production image for causal-lattice: the parent image that ZenML's DockerSettings points at.
#
#   docker build -t <registry>/causal-lattice:<version> .
#   docker build --build-arg TORCH_CUDA=cu130 ...      # other CUDA build of torch 2.13.0
#   docker build --build-arg PROJECT_EXTRAS=s3 ...     # or gcs: the artifact-store filesystem extras
#
# The step pods run this image as it is: k8s/register_stack.sh sets it as the kubeflow_gpu
# orchestrator's `image` (PIPELINE_IMAGE), so ZenML builds nothing; the equivalent in plain ZenML is
# DockerSettings(parent_image="<registry>/causal-lattice:<version>", skip_build=True). The image
# already holds the code and every pinned dependency, and the CronJob that submits the pipeline has
# no Docker engine to build with. Letting ZenML build on top of it does not work: ZenML's generated
# Dockerfile runs `pip install` and `RUN chmod -R a+rw .` as this image's non-root USER, and both
# fail on the root-owned venv and on the files its `COPY` creates.
#
# The CUDA libraries (cuBLAS, cuDNN, NCCL, ...) come with torch's CUDA wheel as nvidia-* packages,
# so the `base` flavour of the CUDA image is enough: it adds the NVIDIA container runtime settings
# (NVIDIA_VISIBLE_DEVICES, NVIDIA_DRIVER_CAPABILITIES) without a second copy of the CUDA runtime.
# The GPU nodes' driver must support the CUDA version of TORCH_CUDA (cu128 needs driver >= 525,
# cu130 needs driver >= 580).
#
# checkov (make lint) cannot expand an ARG in FROM; the default below is a version tag, never latest
# (tests/k8s/test_dockerfile.py). No HEALTHCHECK: the image runs batch commands (pipeline steps, the CronJob's
# submission), not a server, and Kubernetes ignores a Dockerfile HEALTHCHECK anyway.
# checkov:skip=CKV_DOCKER_7: FROM takes ARG CUDA_BASE_IMAGE, whose default is the version tag 12.8.1-base-ubuntu22.04
# checkov:skip=CKV_DOCKER_2: a batch image without a server to probe; Kubernetes ignores HEALTHCHECK
ARG CUDA_BASE_IMAGE=nvidia/cuda:12.8.1-base-ubuntu22.04
FROM ${CUDA_BASE_IMAGE}

# Which CUDA build of torch 2.13.0 to install: the suffix of its index on download.pytorch.org.
ARG TORCH_CUDA=cu128
# Optional extras of the causal-lattice project, comma separated (empty: none).
ARG PROJECT_EXTRAS=""
ARG DEBIAN_FRONTEND=noninteractive

# Python 3.11, as pyproject.toml requires (>=3.11,<3.12). Ubuntu 22.04 only ships a 3.11.0 build,
# so the interpreter comes from the deadsnakes PPA, which tracks the 3.11 patch releases.
# hadolint (make lint) asks for apt version pins (DL3008); not here: the PPA keeps only its newest build, so a
# pinned version stops building the day it is replaced. The base image tag and the Python lock pin the rest.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates gpg-agent software-properties-common \
    && add-apt-repository -y ppa:deadsnakes/ppa \
    && apt-get update \
    && apt-get install -y --no-install-recommends python3.11 python3.11-venv \
    && apt-get purge -y --auto-remove software-properties-common gpg-agent \
    && rm -rf /var/lib/apt/lists/*

# Everything Python lives in one root-owned virtualenv; the runtime user can read it, not change it.
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONFAULTHANDLER=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3.11 -m venv "$VIRTUAL_ENV" && pip install --upgrade "pip<27"

WORKDIR /app

# 1) The constraints. requirements.lock was frozen on a CPU machine and pins `torch==2.13.0+cpu`,
#    which only exists on PyTorch's CPU index. The image needs the CUDA build of the same release,
#    so that one line becomes `torch==2.13.0+${TORCH_CUDA}`; every other pin stays as locked. The
#    grep stops the build if the lock's torch pin has changed and the substitution matched nothing.
#    (Replacing the line rather than dropping it keeps pip from swapping in PyPI's own torch build.)
COPY requirements.lock pyproject.toml ./
RUN sed -E "s/^torch==2\.13\.0\+cpu$/torch==2.13.0+${TORCH_CUDA}/" requirements.lock > /tmp/constraints.txt \
    && grep -qx "torch==2.13.0+${TORCH_CUDA}" /tmp/constraints.txt

# 2) torch from the PyTorch CUDA index first. Its pure-Python dependencies (sympy, filelock, ...)
#    still honour the lock through -c; the nvidia-* and triton wheels are pinned by torch itself.
RUN pip install \
        --index-url "https://download.pytorch.org/whl/${TORCH_CUDA}" \
        --extra-index-url https://pypi.org/simple \
        -c /tmp/constraints.txt \
        "torch==2.13.0+${TORCH_CUDA}"

# 3) The project's dependencies, read from pyproject.toml, in their own layer so that a code change
#    does not reinstall them.
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/project-requirements.txt \
    && pip install -c /tmp/constraints.txt -r /tmp/project-requirements.txt

# 4) The project itself. The `pip install -c ... -e .` below is the same command as `make install`
#    (with the CUDA-adjusted lock); at this point it only adds the project, as every dependency is
#    already there at its pinned version. `pip check` fails the build on an inconsistent set.
COPY model/ ./model/
COPY steps/ ./steps/
COPY pipelines/ ./pipelines/
COPY materializers/ ./materializers/
COPY orchestrators/ ./orchestrators/
COPY registry/ ./registry/
COPY cli/ ./cli/
COPY zenml_config.yaml ./
RUN pip install -c /tmp/constraints.txt -e ".${PROJECT_EXTRAS:+[${PROJECT_EXTRAS}]}" \
    && pip check \
    && python -c "import torch, torch_geometric, torchmetrics, zenml, mlflow, kfp; print('torch', torch.__version__, 'cuda', torch.version.cuda)" \
    && rm -f /tmp/constraints.txt /tmp/project-requirements.txt

# Non-root runtime user with a fixed numeric UID/GID (the k8s manifests use runAsUser: 10001).
# The code stays root-owned and read-only to it; /app itself is writable because ZenML extracts a
# downloaded code archive into ./code when the code comes from the artifact store.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid 10001 --home-dir /home/app --create-home \
        --shell /usr/sbin/nologin app \
    && chown 10001:10001 /app

# Writable state goes to HOME (an emptyDir in the k8s manifests) and /tmp.
ENV HOME=/home/app \
    ZENML_CONFIG_PATH=/home/app/.config/zenml \
    ZENML_ANALYTICS_OPT_IN=false \
    ZENML_ENABLE_REPO_INIT_WARNINGS=false \
    MPLCONFIGDIR=/tmp/matplotlib \
    MPLBACKEND=Agg

USER 10001:10001

CMD ["zenml", "--help"]
