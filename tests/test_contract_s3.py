"""The HTTP contract, ranges and conditional requests of every cache, run on CacheS3.

The tests are those of ``test_contract.py`` and ``test_ranges_conditionals.py``,
with the ``cache`` of this module: a ``CacheS3`` on the real radosgw, in its
streamed mode (``redirect=False``: these suites read the app's own answers;
the redirects are in ``test_cache_s3_redirect.py``), on every backend as for
the other caches. "s3" is not one of ``CACHE_KINDS``: that would start a Ceph
cluster in every xdist worker; this module has its own xdist group (its own
cluster, beside the other S3 modules' one). Left out, as they test
what CacheS3 does not have: ``test_eviction_gives_404`` (no size bound) and
``test_server_side_open_failure_is_503_not_404`` (paths are copied at
register, never opened at serve).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import pytest

import dash_file_cache as dfc
from tests.test_cache_s3 import bucket, credentials, make_cache, s3
from tests.test_contract import (
    test_content_disposition_encoding,
    test_content_type_rules,
    test_download_flag,
    test_empty_file,
    test_errors_on_real_server,
    test_file_name_defaults,
    test_file_name_query_override,
    test_get_whole,
    test_head,
    test_inline_flag,
    test_one_time_not_claimed_by_head_or_416,
    test_one_time_path_keeps_user_file,
    test_one_time_service,
    test_register_copies_content,
    test_register_download_address,
    test_removed_path_is_404,
    test_unavailable_cache_is_503,
    test_unknown_uid_is_404,
    test_unrelated_query_parameters_ignored,
)
from tests.test_ranges_conditionals import (
    test_concurrent_ranges_reassemble,
    test_conditional_get,
    test_if_range,
    test_one_time_range_claims,
    test_ranges_on_real_server,
    test_single_range,
    test_unsatisfiable_range,
    test_unsupported_range_gives_whole,
)

if TYPE_CHECKING:
    from tests.support.radosgw import RadosGateway

pytest_plugins = ("tests.support.radosgw",)
#: A second group (a second Ceph cluster, about 12 s to start) so that, under xdist, the S3
#: suites run on two workers: one group of them all takes about 4 minutes alone.
pytestmark = pytest.mark.xdist_group("radosgw-2")

__all__ = [
    "bucket",
    "credentials",
    "s3",
    "test_concurrent_ranges_reassemble",
    "test_conditional_get",
    "test_content_disposition_encoding",
    "test_content_type_rules",
    "test_download_flag",
    "test_empty_file",
    "test_errors_on_real_server",
    "test_file_name_defaults",
    "test_file_name_query_override",
    "test_get_whole",
    "test_head",
    "test_if_range",
    "test_inline_flag",
    "test_one_time_not_claimed_by_head_or_416",
    "test_one_time_path_keeps_user_file",
    "test_one_time_range_claims",
    "test_one_time_service",
    "test_ranges_on_real_server",
    "test_register_copies_content",
    "test_register_download_address",
    "test_removed_path_is_404",
    "test_single_range",
    "test_unavailable_cache_is_503",
    "test_unknown_uid_is_404",
    "test_unrelated_query_parameters_ignored",
    "test_unsatisfiable_range",
    "test_unsupported_range_gives_whole",
]


@pytest.fixture
def cache_kind() -> str:
    return "s3"


@pytest.fixture
def new_cache(
    radosgw: RadosGateway, bucket: str, credentials: None, tmp_path: Path
) -> Callable[..., dfc.CacheAbstract]:
    """``new_cache()``: a CacheS3 on this test's bucket (no other option applies to it)."""

    def new(**options: Any) -> dfc.CacheAbstract:
        if options:
            raise TypeError(f"CacheS3 takes none of {sorted(options)} in this suite")
        return make_cache(radosgw, bucket)

    return new
