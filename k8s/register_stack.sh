#!/usr/bin/env bash
# Register the causal-lattice production ZenML stack on the ZenML server:
#
#   orchestrator       kubeflow_gpu  (custom flavor in orchestrators/kubeflow_gpu/, registered first)
#   experiment tracker mlflow        (the MLflow server of k8s/mlflow.yaml, basic-auth credentials
#                                     kept in the ZenML secret `mlflow_tracking`)
#   model registry     mlflow
#   artifact store     s3 or gcp     (chosen by the scheme of ARTIFACT_STORE_PATH)
#   container registry CONTAINER_REGISTRY_FLAVOR (default: default)
#
# and make the stack active. Safe to re-run: what exists already is updated, not registered twice.
# Run it from anywhere with the project's virtualenv on PATH (the flavor is imported from the
# repository root). All settings come from the environment:
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
set -euo pipefail

readonly FLAVOR_SOURCE="orchestrators.kubeflow_gpu.flavor.KubeflowGPUOrchestratorFlavor"
readonly FLAVOR_NAME="kubeflow_gpu"
# Kubernetes Secrets (k8s/secrets.example.yaml) whose keys the step pods get as env vars through
# kfp-kubernetes, as `secret key -> env var` maps; keys are named after the variables.
readonly K8S_ZENML_SECRET="zenml-server-credentials"
readonly K8S_ZENML_SECRET_KEYS='{"ZENML_STORE_URL": "ZENML_STORE_URL", "ZENML_STORE_API_KEY": "ZENML_STORE_API_KEY"}'
readonly K8S_MLFLOW_SECRET="mlflow-client"
readonly K8S_MLFLOW_SECRET_KEYS='{"MLFLOW_TRACKING_URI": "MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME": "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD": "MLFLOW_TRACKING_PASSWORD"}'

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

command -v zenml >/dev/null 2>&1 \
    || die "the zenml CLI is not on PATH; activate the project's virtualenv (make install; . .venv/bin/activate)"

# The flavor source is a module path relative to the source root; without a `zenml init`
# repository ZenML uses the working directory, so work from the repository root.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export ZENML_ANALYTICS_OPT_IN="${ZENML_ANALYTICS_OPT_IN:-false}"

log() { printf '==> %s\n' "$*"; }

# register_or_update <component-group> <name> <flavor> [--key=value ...]
register_or_update() {
    local group="$1" name="$2" flavor="$3"
    shift 3
    if zenml "$group" describe "$name" >/dev/null 2>&1; then
        log "updating ${group} '${name}'"
        zenml "$group" update "$name" "$@"
    else
        log "registering ${group} '${name}' (flavor ${flavor})"
        zenml "$group" register "$name" --flavor="$flavor" "$@"
    fi
}

# ---------------------------------------------------------------------------------------------
# 2. The custom orchestrator flavor.
# ---------------------------------------------------------------------------------------------
if zenml orchestrator flavor describe "$FLAVOR_NAME" >/dev/null 2>&1; then
    log "orchestrator flavor '${FLAVOR_NAME}' already registered (delete it with" \
        "'zenml orchestrator flavor delete ${FLAVOR_NAME}' to re-register a changed config schema)"
else
    log "registering orchestrator flavor ${FLAVOR_SOURCE}"
    zenml orchestrator flavor register "$FLAVOR_SOURCE"
fi

# ---------------------------------------------------------------------------------------------
# 3. MLflow credentials as a ZenML secret, referenced by the tracker as {{secret.key}}. The values
#    go through a private temporary file, never through the command line (process listings).
# ---------------------------------------------------------------------------------------------
yaml_quote() { # single-quoted YAML scalar: a quote inside is written twice
    local s="${1//\'/\'\'}"
    printf "'%s'" "$s"
}
secret_file="$(mktemp)"
trap 'rm -f "$secret_file"' EXIT
chmod 600 "$secret_file"
{
    printf 'username: %s\n' "$(yaml_quote "$MLFLOW_TRACKING_USERNAME")"
    printf 'password: %s\n' "$(yaml_quote "$MLFLOW_TRACKING_PASSWORD")"
} >"$secret_file"
if zenml secret get "$MLFLOW_SECRET_NAME" >/dev/null 2>&1; then
    log "updating secret '${MLFLOW_SECRET_NAME}'"
    zenml secret update "$MLFLOW_SECRET_NAME" --values="@${secret_file}"
else
    log "creating secret '${MLFLOW_SECRET_NAME}'"
    zenml secret create "$MLFLOW_SECRET_NAME" --values="@${secret_file}"
fi
rm -f "$secret_file"

# ---------------------------------------------------------------------------------------------
# 4. Stack components.
# ---------------------------------------------------------------------------------------------
register_or_update orchestrator "$ORCHESTRATOR_NAME" "$FLAVOR_NAME" \
    --kubeflow_hostname="$KUBEFLOW_HOST" \
    --kubeflow_namespace="$KUBEFLOW_NAMESPACE" \
    --user_namespace="$KUBEFLOW_USER_NAMESPACE" \
    --synchronous=true \
    --timeout="$KUBEFLOW_RUN_TIMEOUT_S" \
    --image="$PIPELINE_IMAGE" \
    --zenml_server_secret="$K8S_ZENML_SECRET" \
    --zenml_server_secret_keys="$K8S_ZENML_SECRET_KEYS" \
    --mlflow_secret="$K8S_MLFLOW_SECRET" \
    --mlflow_secret_keys="$K8S_MLFLOW_SECRET_KEYS"

register_or_update experiment-tracker "$EXPERIMENT_TRACKER_NAME" mlflow \
    --tracking_uri="$MLFLOW_TRACKING_URI" \
    --tracking_username="{{${MLFLOW_SECRET_NAME}.username}}" \
    --tracking_password="{{${MLFLOW_SECRET_NAME}.password}}"

# The MLflow model registry uses the tracking server of the stack's MLflow experiment tracker.
register_or_update model-registry "$MODEL_REGISTRY_NAME" mlflow

artifact_store_args=(--path="$ARTIFACT_STORE_PATH")
if [[ -n "${ARTIFACT_STORE_ENDPOINT_URL:-}" ]]; then
    artifact_store_args+=(--client_kwargs="{\"endpoint_url\": \"${ARTIFACT_STORE_ENDPOINT_URL}\"}")
fi
register_or_update artifact-store "$ARTIFACT_STORE_NAME" "$artifact_store_flavor" "${artifact_store_args[@]}"
if [[ -n "${ARTIFACT_STORE_CONNECTOR:-}" ]]; then
    zenml artifact-store connect "$ARTIFACT_STORE_NAME" --connector "$ARTIFACT_STORE_CONNECTOR"
fi

register_or_update container-registry "$CONTAINER_REGISTRY_NAME" "$CONTAINER_REGISTRY_FLAVOR" \
    --uri="$CONTAINER_REGISTRY_URI"
if [[ -n "${CONTAINER_REGISTRY_CONNECTOR:-}" ]]; then
    zenml container-registry connect "$CONTAINER_REGISTRY_NAME" --connector "$CONTAINER_REGISTRY_CONNECTOR"
fi

# ---------------------------------------------------------------------------------------------
# 5. The stack, made active.
# ---------------------------------------------------------------------------------------------
stack_components=(
    --orchestrator "$ORCHESTRATOR_NAME"
    --experiment_tracker "$EXPERIMENT_TRACKER_NAME"
    --model_registry "$MODEL_REGISTRY_NAME"
    --artifact-store "$ARTIFACT_STORE_NAME"
    --container_registry "$CONTAINER_REGISTRY_NAME"
)
if zenml stack describe "$ZENML_STACK_NAME" >/dev/null 2>&1; then
    log "updating stack '${ZENML_STACK_NAME}'"
    zenml stack update "$ZENML_STACK_NAME" "${stack_components[@]}"
    zenml stack set "$ZENML_STACK_NAME"
else
    log "registering stack '${ZENML_STACK_NAME}'"
    zenml stack register "$ZENML_STACK_NAME" "${stack_components[@]}" --set
fi
log "stack '${ZENML_STACK_NAME}' is registered and active"
