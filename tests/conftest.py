"""Fixtures: a sandbox per test module, and one with faults for tests that need them."""

from __future__ import annotations

import pytest

from sandbox import Sandbox


@pytest.fixture(scope="module")
def sandbox():
    """A seeded sandbox without a rate limit, shared by the tests of one module."""
    with Sandbox(seed=7, rate_limit=None) as server:
        yield server


@pytest.fixture
def fresh_sandbox():
    """A sandbox for one test, free to mutate or to switch faults on."""
    with Sandbox(seed=11, rate_limit=None) as server:
        yield server
