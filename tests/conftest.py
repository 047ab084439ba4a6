"""zarrsync.testing holds reusable test suites (StoreTests, codec checks) built on plain asserts;
register it so pytest rewrites them and failures show the compared values."""

import pytest

pytest.register_assert_rewrite("zarrsync.testing")
