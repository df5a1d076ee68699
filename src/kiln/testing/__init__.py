"""Conformance suites: one set of tests per seam, run against every backend of that seam.

In the manner of optuna's ``testing/pytest_storages.py``: each module holds a test class whose tests
use one fixture (``db``, ``store`` or ``executor``); a test module subclasses it and supplies the
fixture, parametrized over the backends at hand. Backends that need a service run when their variable
is set (``KILN_TEST_DATABASE_URL`` for PostgreSQL, ``KILN_TEST_ARTIFACT_URL`` for S3); CI sets both.
A new backend passes these before anything else uses it.

These modules import pytest: they are for tests, never imported by Kiln itself.
"""

from __future__ import annotations

import os

__all__ = ["ARTIFACT_URL_VARIABLE", "DATABASE_URL_VARIABLE", "service_url"]

DATABASE_URL_VARIABLE = "KILN_TEST_DATABASE_URL"  # e.g. postgresql+psycopg://user@127.0.0.1:5432/kiln
ARTIFACT_URL_VARIABLE = "KILN_TEST_ARTIFACT_URL"  # e.g. s3://kiln-test (endpoint: AWS_ENDPOINT_URL)


def service_url(variable: str) -> str | None:
    """The URL of a backend service for the suites, or None when this run has none."""
    return os.environ.get(variable) or None
