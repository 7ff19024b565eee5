"""Fixtures for the `kubeflow_gpu` orchestrator tests (helpers, pipeline under test: `kfp_testlib`)."""

from __future__ import annotations

import pytest

from tests.orchestrators.kfp_testlib import CRON, PIPELINE_UNDER_TEST, Compiled, compile_under_test


@pytest.fixture(scope="session")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Compiled:
    """The pipeline under test compiled with the production config and a nightly cron schedule."""
    return compile_under_test(tmp_path_factory.mktemp("kfp-compile"), PIPELINE_UNDER_TEST.config, CRON)
