#!/usr/bin/env bash
# Register the causal-lattice production ZenML stack on the ZenML server and make it active:
#
#   orchestrator       kubeflow_gpu  (custom flavor in orchestrators/kubeflow_gpu/, registered first)
#   experiment tracker mlflow        (the MLflow server of k8s/mlflow.yaml, basic-auth credentials
#                                     kept in the ZenML secret MLFLOW_SECRET_NAME)
#   model registry     mlflow
#   artifact store     s3 or gcp     (chosen by the scheme of ARTIFACT_STORE_PATH)
#   container registry CONTAINER_REGISTRY_FLAVOR (default: default)
#
# This script checks the environment and sets the defaults; the registration itself is
# `python -m tools production-stack` (tools/production_stack.py), which calls the same `upsert_stack`
# as the local set-up and `causal-lattice compile`. Safe to re-run: what exists is updated, not
# registered twice. Run it from a checkout with the project's virtualenv on PATH (or PYTHON set to its
# interpreter). All settings come from the environment:
#
# required
#   ZENML_STORE_URL, ZENML_STORE_API_KEY   the ZenML server and an API key of a service account
#   KUBEFLOW_HOST                          Kubeflow Pipelines API, e.g. https://kubeflow.example.com/pipeline
#   MLFLOW_TRACKING_URI                    e.g. http://mlflow.causal-lattice.svc.cluster.local:5000
#   MLFLOW_TRACKING_USERNAME, MLFLOW_TRACKING_PASSWORD   MLflow basic-auth user of the pipeline
#   ARTIFACT_STORE_PATH                    s3://bucket/prefix or gs://bucket/prefix
#   CONTAINER_REGISTRY_URI                 e.g. registry.example.com/causal-lattice
#   PIPELINE_IMAGE                         the project image (Dockerfile) the step pods run, pinned,
#                                          e.g. registry.example.com/causal-lattice/causal-lattice:0.1.0;
#                                          set as the orchestrator's `image`, so ZenML builds nothing
#                                          (the CronJob that submits has no Docker engine)
# optional (default)
#   KUBEFLOW_NAMESPACE (kubeflow)          namespace Kubeflow Pipelines is installed in
#   KUBEFLOW_USER_NAMESPACE (causal-lattice)  namespace the runs go to (multi-user profile)
#   KUBEFLOW_RUN_TIMEOUT_S (43200)         how long a synchronous submission waits; keep below the
#                                          CronJob's activeDeadlineSeconds (46800)
#   ARTIFACT_STORE_ENDPOINT_URL            S3-compatible endpoint (MinIO, Ceph), s3 only
#   ARTIFACT_STORE_CONNECTOR               ZenML service connector for the artifact store (else the
#                                          pods' workload identity / ambient credentials are used)
#   CONTAINER_REGISTRY_FLAVOR (default)    default | dockerhub | github | gcp | azure | aws
#   CONTAINER_REGISTRY_CONNECTOR           ZenML service connector for the container registry
#   ZENML_STACK_NAME (causal-lattice-prod) k8s/cronjob.yaml runs on this stack name
#   ORCHESTRATOR_NAME (kubeflow_gpu_orchestrator), EXPERIMENT_TRACKER_NAME (mlflow_tracker),
#   MODEL_REGISTRY_NAME (mlflow_registry), ARTIFACT_STORE_NAME (causal_lattice_artifacts),
#   CONTAINER_REGISTRY_NAME (causal_lattice_registry), MLFLOW_SECRET_NAME (mlflow_tracking)
#   PYTHON (python3)                       the interpreter of the project's virtualenv
set -euo pipefail

die() {
    printf 'register_stack.sh: %s\n' "$*" >&2
    exit 2
}

# ---------------------------------------------------------------------------------------------
# 1. Check the whole environment before touching ZenML, and report everything missing at once.
# ---------------------------------------------------------------------------------------------
missing=()
require() {
    local name="$1" hint="$2"
    if [[ -z "${!name:-}" ]]; then
        missing+=("${name}: ${hint}")
    fi
}
require ZENML_STORE_URL "URL of the ZenML server, e.g. https://zenml.example.com"
require ZENML_STORE_API_KEY "API key of a ZenML service account (zenml service-account create ...)"
require KUBEFLOW_HOST "Kubeflow Pipelines API URL, e.g. https://kubeflow.example.com/pipeline"
require MLFLOW_TRACKING_URI "MLflow server URL, e.g. http://mlflow.causal-lattice.svc.cluster.local:5000"
require MLFLOW_TRACKING_USERNAME "MLflow basic-auth user the pipeline logs as"
require MLFLOW_TRACKING_PASSWORD "password of MLFLOW_TRACKING_USERNAME"
require ARTIFACT_STORE_PATH "bucket for ZenML artifacts, s3://bucket/prefix or gs://bucket/prefix"
require CONTAINER_REGISTRY_URI "registry the project image is pushed to, e.g. registry.example.com/causal-lattice"
require PIPELINE_IMAGE "project image for the step pods, e.g. registry.example.com/causal-lattice/causal-lattice:0.1.0"
if ((${#missing[@]} > 0)); then
    {
        printf 'register_stack.sh: missing required environment variable(s):\n'
        printf '  %s\n' "${missing[@]}"
        printf 'Nothing was registered.\n'
    } >&2
    exit 2
fi

case "$ARTIFACT_STORE_PATH" in
    s3://?*) artifact_store_flavor=s3 ;;
    gs://?*) artifact_store_flavor=gcp ;;
    *) die "ARTIFACT_STORE_PATH must start with s3:// or gs:// (got '${ARTIFACT_STORE_PATH}')" ;;
esac
if [[ -n "${ARTIFACT_STORE_ENDPOINT_URL:-}" && "$artifact_store_flavor" != s3 ]]; then
    die "ARTIFACT_STORE_ENDPOINT_URL only applies to an s3:// ARTIFACT_STORE_PATH"
fi
case "$MLFLOW_TRACKING_URI" in
    http://?* | https://?*) ;;
    *) die "MLFLOW_TRACKING_URI must be an http(s):// URL of the MLflow server (got '${MLFLOW_TRACKING_URI}')" ;;
esac
case "$KUBEFLOW_HOST" in
    http://?* | https://?*) ;;
    *) die "KUBEFLOW_HOST must be an http(s):// URL (got '${KUBEFLOW_HOST}')" ;;
esac
case "$PIPELINE_IMAGE" in
    *@sha256:*) ;;
    *:latest | *:latest-*) die "PIPELINE_IMAGE must be pinned to a version tag or digest, not latest (got '${PIPELINE_IMAGE}')" ;;
    */*:*) ;;
    *) die "PIPELINE_IMAGE must be a full image reference with a tag or digest (got '${PIPELINE_IMAGE}')" ;;
esac
KUBEFLOW_RUN_TIMEOUT_S="${KUBEFLOW_RUN_TIMEOUT_S:-43200}"
[[ "$KUBEFLOW_RUN_TIMEOUT_S" =~ ^[1-9][0-9]*$ ]] \
    || die "KUBEFLOW_RUN_TIMEOUT_S must be a positive number of seconds (got '${KUBEFLOW_RUN_TIMEOUT_S}')"
CONTAINER_REGISTRY_FLAVOR="${CONTAINER_REGISTRY_FLAVOR:-default}"
case "$CONTAINER_REGISTRY_FLAVOR" in
    default | dockerhub | github | gcp | azure | aws) ;;
    *) die "CONTAINER_REGISTRY_FLAVOR must be one of default, dockerhub, github, gcp, azure, aws (got '${CONTAINER_REGISTRY_FLAVOR}')" ;;
esac

KUBEFLOW_NAMESPACE="${KUBEFLOW_NAMESPACE:-kubeflow}"
KUBEFLOW_USER_NAMESPACE="${KUBEFLOW_USER_NAMESPACE:-causal-lattice}"
ZENML_STACK_NAME="${ZENML_STACK_NAME:-causal-lattice-prod}"
ORCHESTRATOR_NAME="${ORCHESTRATOR_NAME:-kubeflow_gpu_orchestrator}"
EXPERIMENT_TRACKER_NAME="${EXPERIMENT_TRACKER_NAME:-mlflow_tracker}"
MODEL_REGISTRY_NAME="${MODEL_REGISTRY_NAME:-mlflow_registry}"
ARTIFACT_STORE_NAME="${ARTIFACT_STORE_NAME:-causal_lattice_artifacts}"
CONTAINER_REGISTRY_NAME="${CONTAINER_REGISTRY_NAME:-causal_lattice_registry}"
MLFLOW_SECRET_NAME="${MLFLOW_SECRET_NAME:-mlflow_tracking}"

export KUBEFLOW_NAMESPACE KUBEFLOW_USER_NAMESPACE KUBEFLOW_RUN_TIMEOUT_S CONTAINER_REGISTRY_FLAVOR \
    ZENML_STACK_NAME ORCHESTRATOR_NAME EXPERIMENT_TRACKER_NAME MODEL_REGISTRY_NAME ARTIFACT_STORE_NAME \
    CONTAINER_REGISTRY_NAME MLFLOW_SECRET_NAME

# ---------------------------------------------------------------------------------------------
# 2. Register flavor, secret, components and stack (tools/production_stack.py). The MLflow
#    credentials reach ZenML through the environment, never through a command line.
# ---------------------------------------------------------------------------------------------
PYTHON="${PYTHON:-python3}"
command -v "$PYTHON" >/dev/null 2>&1 \
    || die "${PYTHON} is not on PATH; activate the project's virtualenv (make install; . .venv/bin/activate) or set PYTHON"
# The flavor source and `tools` are module paths relative to the repository root: work from there.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
"$PYTHON" -c "import zenml, cli" 2>/dev/null \
    || die "${PYTHON} cannot import zenml and the project; use the project's virtualenv (make install) or set PYTHON"
export ZENML_ANALYTICS_OPT_IN="${ZENML_ANALYTICS_OPT_IN:-false}"
exec "$PYTHON" -m tools production-stack
