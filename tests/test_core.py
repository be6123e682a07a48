"""The SDK's standard tap tests, with every stream selected, against the sandbox."""

from __future__ import annotations

import atexit

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from sandbox import Sandbox
from tap_customerio.tap import TapCustomerIO

# The standard suite reads its config when the class is built at import time, so
# the sandbox starts here rather than in a fixture.
_SANDBOX = Sandbox(seed=3, rate_limit=None).start()
atexit.register(_SANDBOX.stop)

TestTapCustomerIO = get_tap_test_class(
    tap_class=TapCustomerIO,
    config={
        "api_key": _SANDBOX.api_key,
        "api_url": _SANDBOX.url,
        "max_requests_per_second": 500,
    },
    suite_config=SuiteConfig(max_records_limit=None),
)
