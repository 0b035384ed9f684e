"""parse_envelope: the host's last check on bytes that passed near hostile code."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from evaluators import contract
from evaluators.envelope import encode_envelope, fit_artifacts, make_envelope
from sandboxes.envelope import parse_envelope
from sandboxes.job import EvalResult, Probes, Status

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=30,
)
names = st.text(min_size=1, max_size=contract.MAX_METRIC_NAME_CHARS)
finite = st.floats(allow_nan=False, allow_infinity=False)
valid_envelopes = st.fixed_dictionaries(
    {
        "version": st.just(contract.ENVELOPE_VERSION),
        "status": st.sampled_from([s.value for s in Status]),
        "reason": st.text(max_size=200),
        "metrics": st.dictionaries(names, finite | st.integers(-(10**9), 10**9), max_size=20),
        "artifacts": st.dictionaries(names, st.text(max_size=300), max_size=10),
        "stage_reached": st.integers(0, 10),
        "wall_time_s": st.floats(0, 1e6),
        "peak_memory_mb": st.floats(0, 1e6),
    }
)


def check_result_bounds(result: EvalResult) -> None:
    """Whatever came in, what goes out obeys the contract."""
    assert isinstance(result, EvalResult)
    assert isinstance(result.status, Status)
    assert len(result.metrics) <= contract.MAX_METRICS
    assert all(type(v) is float and math.isfinite(v) for v in result.metrics.values())
    assert all(isinstance(k, str) and 0 < len(k) <= 128 for k in result.metrics)
    assert len(result.artifacts) <= contract.MAX_ARTIFACTS
    assert all(len(v) <= contract.MAX_ARTIFACT_CHARS for v in result.artifacts.values())
    assert "\n" not in result.reason
    if result.status != Status.OK:
        assert result.reason


@given(st.binary(max_size=2000))
def test_random_bytes_never_raise(raw: bytes) -> None:
    result = parse_envelope(raw)
    check_result_bounds(result)
    assert result.status == Status.ERROR


@given(json_values)
def test_any_json_value_never_raises_and_stays_in_bounds(value: Any) -> None:
    check_result_bounds(parse_envelope(json.dumps(value).encode()))


@given(valid_envelopes, st.dictionaries(st.sampled_from(list(make_envelope("ok"))), json_values))
def test_corrupting_fields_of_a_valid_envelope_never_raises(
    envelope: dict[str, Any], corruption: dict[str, Any]
) -> None:
    check_result_bounds(parse_envelope(json.dumps({**envelope, **corruption}).encode()))


@given(valid_envelopes)
def test_valid_envelopes_round_trip(envelope: dict[str, Any]) -> None:
    result = parse_envelope(encode_envelope(envelope))
    check_result_bounds(result)
    assert result.status == Status(envelope["status"])
    assert result.metrics == {k: float(v) for k, v in envelope["metrics"].items()}
    assert result.stage_reached == envelope["stage_reached"]
    assert result.wall_time_s == envelope["wall_time_s"]
    if envelope["status"] == "ok":
        assert result.reason == " ".join(envelope["reason"].split())


@settings(max_examples=30)
@given(st.dictionaries(names, st.text(max_size=40_000), max_size=contract.MAX_ARTIFACTS))
def test_fit_artifacts_always_fits_the_budget(artifacts: dict[str, str]) -> None:
    budget = 50_000
    fitted = fit_artifacts(artifacts, budget)
    assert set(fitted) == set(artifacts)
    assert sum(len(json.dumps(v)) for v in fitted.values()) <= budget
    assert all(len(v) <= contract.MAX_ARTIFACT_CHARS for v in fitted.values())


def valid(**changes: Any) -> bytes:
    return json.dumps({**make_envelope("ok", metrics={"score": 1.0}), **changes}).encode()


def test_each_bound_is_enforced() -> None:
    too_many = {f"m{i}": 1.0 for i in range(contract.MAX_METRICS + 1)}
    cases = {
        "metrics, more than": valid(metrics=too_many),
        "name of length": valid(metrics={"x" * 129: 1.0}),
        "not a number": valid(metrics={"score": "1.0"}),
        "is bool": valid(metrics={"ok": True}),
        "non-finite": valid().replace(b"1.0", b"NaN"),
        "chars, more than allowed": valid(
            artifacts={"log": "x" * (contract.MAX_ARTIFACT_CHARS + 1)}
        ),
        "unknown status": valid(status="great"),
        "version": valid(version=2),
        "unknown field": valid(score=1e9),
        "stage_reached": valid(stage_reached=-1),
        "wall_time_s": valid(wall_time_s=-1.0),
        "not valid JSON": b"[" * 100_000,
        "bytes, more than": b" " * (contract.MAX_ENVELOPE_BYTES + 1),
        "top level is list": b"[]",
        "missing field": b'{"version": 1}',
        "probes must be an object": valid(probes=[1]),
        "probes.counts must map kinds": valid(probes={"counts": {"dns": 1}}),
        "probes.log must be a list of at most": valid(
            probes={"log": ["x"] * (contract.MAX_PROBE_LINES + 1)}
        ),
        "probes.seen must list known kinds": valid(probes={"seen": ["everything"]}),
        "probes.counts.read": valid(probes={"counts": {"read": -1}}),
    }
    for expected, raw in cases.items():
        result = parse_envelope(raw)
        assert result.status == Status.ERROR, expected
        assert expected in result.reason, (expected, result.reason)
        assert result.metrics == {}


def test_lone_surrogates_are_replaced_not_fatal() -> None:
    raw = valid(artifacts={"log": "a\ud800b"}, reason="x\udfff")
    result = parse_envelope(raw)
    assert result.status == Status.OK
    assert result.artifacts["log"] == "a?b"
    result.artifacts["log"].encode("utf-8")


def test_a_failure_without_a_reason_gets_one() -> None:
    result = parse_envelope(valid(status="timeout", reason=""))
    assert result.status == Status.TIMEOUT
    assert "timeout" in result.reason


@given(
    counts=st.dictionaries(
        st.sampled_from(contract.PROBE_KINDS), st.integers(0, contract.MAX_PROBE_COUNT)
    ),
    log=st.lists(
        st.text(max_size=contract.MAX_PROBE_LINE_CHARS), max_size=contract.MAX_PROBE_LINES
    ),
    seen=st.lists(st.sampled_from(contract.PROBE_KINDS), unique=True),
)
def test_a_behaviour_report_round_trips(
    counts: dict[str, int], log: list[str], seen: list[str]
) -> None:
    result = parse_envelope(valid(probes={"counts": counts, "log": log, "seen": seen}))
    assert result.status == Status.OK, result.reason
    assert result.probes is not None
    assert result.probes.counts == counts and result.probes.total == sum(counts.values())
    assert len(result.probes.log) == len(log)
    assert all("\n" not in line for line in result.probes.log)
    assert set(result.probes.seen) == set(seen)
    assert parse_envelope(valid()).probes is None  # absent: nothing was monitored


def test_a_limit_the_host_saw_adds_to_the_report() -> None:
    fresh = Probes.limit_hit("time limit: the supervisor ran past 25 s")
    assert fresh.counts == {"limit": 1} and fresh.seen == ("limit",)
    report = Probes({"read": 2}, ("read: open '/job/1/work/x'",), ("read", "limit"))
    both = Probes.limit_hit("memory limit: 256 MB (the container's OOM killer)", report)
    assert both.counts == {"read": 2, "limit": 1} and both.total == 3
    assert both.log[-1].startswith("limit: memory limit") and both.seen == ("read", "limit")
