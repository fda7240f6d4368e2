"""A schemathesis check for Carepath: an answer coded INTERNAL is a failure.

INTERNAL is for the database or the broker failing; any input, however odd, gets a typed
answer (BAD_INPUT, NOT_FOUND, ...). Loaded by tests/fuzz/run.sh through SCHEMATHESIS_HOOKS.
"""

import json

import schemathesis


@schemathesis.check
def no_internal_error(ctx, response, case):
    try:
        body = json.loads(response.content or b"{}")
    except ValueError:
        raise AssertionError(f"the answer is not JSON: {response.content[:200]!r}")
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        if code == "INTERNAL":
            raise AssertionError(f"answered INTERNAL: {error.get('message')}")
        if code is None:
            raise AssertionError(f"an error without extensions.code: {error}")


# Carepath's own scalars, mostly well formed, sometimes not.
from datetime import timezone  # noqa: E402

from hypothesis import strategies as st  # noqa: E402

nodes = schemathesis.graphql.nodes
schemathesis.graphql.scalar(
    "UUID", st.one_of(st.uuids().map(str), st.text(max_size=40)).map(nodes.String)
)
schemathesis.graphql.scalar(
    "NaiveDate",
    st.one_of(st.dates().map(lambda d: d.isoformat()), st.text(max_size=12)).map(nodes.String),
)
schemathesis.graphql.scalar(
    "DateTime",
    st.one_of(
        st.datetimes(timezones=st.just(timezone.utc)).map(lambda t: t.isoformat()),
        st.text(max_size=30),
    ).map(nodes.String),
)
schemathesis.graphql.scalar("JSON", st.text(max_size=20).map(nodes.String))
