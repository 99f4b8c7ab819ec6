"""dbt's basic adapter conformance classes on ``type: synthdb``.

synthdb overrides quoting, relations and adds materializations on top of dbt-postgres; these
stock classes prove that every ordinary dbt behaviour (tables, views, ephemeral and incremental
models, seeds, snapshots, singular and generic tests, adapter methods, empty runs) still works.
Each class runs real dbt commands against the suite's PostgreSQL.
"""

from __future__ import annotations

import pytest
from dbt.tests.adapter.basic.test_adapter_methods import BaseAdapterMethod
from dbt.tests.adapter.basic.test_base import BaseSimpleMaterializations
from dbt.tests.adapter.basic.test_empty import BaseEmpty
from dbt.tests.adapter.basic.test_ephemeral import BaseEphemeral
from dbt.tests.adapter.basic.test_generic_tests import BaseGenericTests
from dbt.tests.adapter.basic.test_incremental import BaseIncremental
from dbt.tests.adapter.basic.test_singular_tests import BaseSingularTests
from dbt.tests.adapter.basic.test_singular_tests_ephemeral import BaseSingularTestsEphemeral
from dbt.tests.adapter.basic.test_snapshot_check_cols import BaseSnapshotCheckCols
from dbt.tests.adapter.basic.test_snapshot_timestamp import BaseSnapshotTimestamp
from dbt.tests.adapter.basic.test_validate_connection import BaseValidateConnection

# dbt-tests-adapter 1.20 defines class-scoped fixtures as instance methods, which pytest 9
# deprecates (removed in 10, hence pytest<10 in the dev extras); the warning is about dbt's
# classes, not synthdb, so it is not repeated 29 times in every run.
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning")


class TestSimpleMaterializationsSynthdb(BaseSimpleMaterializations):
    pass


class TestSingularTestsSynthdb(BaseSingularTests):
    pass


class TestSingularTestsEphemeralSynthdb(BaseSingularTestsEphemeral):
    pass


class TestEmptySynthdb(BaseEmpty):
    pass


class TestEphemeralSynthdb(BaseEphemeral):
    pass


class TestIncrementalSynthdb(BaseIncremental):
    pass


class TestGenericTestsSynthdb(BaseGenericTests):
    pass


class TestSnapshotCheckColsSynthdb(BaseSnapshotCheckCols):
    pass


class TestSnapshotTimestampSynthdb(BaseSnapshotTimestamp):
    pass


class TestAdapterMethodSynthdb(BaseAdapterMethod):
    pass


class TestValidateConnectionSynthdb(BaseValidateConnection):
    pass
