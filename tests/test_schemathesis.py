"""Property-based run over the OpenAPI document (schemathesis, every check), bounded to a few
examples per operation on a small city: no server errors, every status and body documented."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.config._checks import PositiveDataAcceptanceConfig

from api.app import create_app
from layers.access import users
from layers.demo.city import generate
from layers.interchange.importer import write_validated
from layers.storage.db import session_scope
from tests.support import BOUNDARY, live_server, scratch_database

pytestmark = pytest.mark.process  # runs against a live server

EXAMPLES = 8


@pytest.fixture(scope="module")
def api(server_url, template_url):
    """A real server on loopback (as an outside tester would call it), on a small city."""
    with scratch_database(server_url, pool_size=2) as (url, engine):
        assert write_validated(engine, generate(BOUNDARY, scale=0.02)).ok
        with session_scope(engine) as session:
            _user, token = users.add(session, "fuzz", "admin")
        # the fuzzer sends a bad token to every operation to see it refused (401); the throttle of
        # bad tokens (429 after ten a minute, tests/test_sign_in.py) is lifted for it
        with live_server(url, GRIDMAP_AUTH_FAILURES_PER_MINUTE="1000000000") as base:
            yield base, token


# The document is the same for every app (no database is needed to build it); requests go to
# the fixture's server.
schema = schemathesis.openapi.from_dict(
    create_app(url="postgresql+psycopg://schema-only@127.0.0.1:1/none").openapi())
# A request can fit the schema and still name a category, camera or place that does not exist;
# the domain answers 400/422 with a message, which is right (and documented), not a rejection
# of valid data.
schema.config.checks.positive_data_acceptance = PositiveDataAcceptanceConfig(
    expected_statuses=["2xx", "3xx", "400", "401", "403", "404", "409", "413", "422", "429"])


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_the_api_keeps_its_documented_contract(case, api):
    base, token = api
    case.call_and_validate(base_url=base, headers={"Authorization": f"Bearer {token}"})
