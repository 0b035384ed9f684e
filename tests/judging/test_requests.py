"""The metric judge's request (what the model is shown, read back by the test
server) and the reading of its reply: a usable reply rates every criterion
with a number; any other text is an ``UnusableReply`` with why, never a crash."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evolve.config import JudgeConfig, JudgeCriterion
from evolve.judging import (
    METRIC_JUDGE_MARKER,
    UnusableReply,
    metric_judge_messages,
    read_metric_judge_request,
    read_ratings,
)
from evolve.judging.requests import shown_code
from evolve.testing.judges import judged_rating, metric_judge_reply

CONFIG = JudgeConfig(
    criteria=(
        JudgeCriterion("simplicity", "short,\n  readable code", 0.5),
        JudgeCriterion("generality", "", 1.0),
    ),
    instructions="Prefer closed forms.",
)
NAMES = CONFIG.names
CODE = "import math\n\n# EVOLVE-BLOCK-START\ndef value():\n    return 15.0\n# EVOLVE-BLOCK-END\n"

names = st.lists(st.from_regex(r"[a-z0-9_]{1,12}", fullmatch=True), min_size=1, max_size=4)


def test_the_request_shows_marker_criteria_instructions_and_code():
    system, user = metric_judge_messages(CODE, CONFIG, "tiny", "Find 10.")
    assert system["role"] == "system" and user["role"] == "user"
    assert system["content"].startswith(METRIC_JUDGE_MARKER)
    assert "Prefer closed forms." in system["content"]
    assert '"simplicity", "generality"' in system["content"]
    text = user["content"]
    assert "Problem: tiny" in text and "Find 10." in text
    assert "- simplicity: short, readable code\n" in text  # one line per criterion
    assert "- generality: generality\n" in text  # no description: its name
    assert text.endswith(f"```python\n{CODE}\n```")


@settings(max_examples=60, deadline=None)
@given(code=st.text(max_size=400), criteria=names)
def test_the_test_server_reads_back_any_request(code, criteria):
    unique = [n for n in dict.fromkeys(criteria) if n != "rationale"] or ["x"]
    config = JudgeConfig(criteria=tuple(JudgeCriterion(n, f"about {n}") for n in unique))
    request = read_metric_judge_request(metric_judge_messages(code, config, "p", "d"))
    assert request is not None
    assert request.criteria == tuple(unique) and request.code == code


def test_other_requests_are_not_metric_judge_requests():
    assert read_metric_judge_request([]) is None
    assert read_metric_judge_request([{"role": "user", "content": "hello"}]) is None
    proposal = [{"role": "system", "content": "You improve programs."}, {"role": "user"}]
    assert read_metric_judge_request(proposal) is None
    assert metric_judge_reply(proposal) is None
    marker_only = [{"role": "system", "content": METRIC_JUDGE_MARKER}, {"content": "x"}]
    assert read_metric_judge_request(marker_only) is None


def test_long_code_is_cut_with_a_note():
    assert shown_code("abc", 100) == "abc"
    cut = shown_code("x" * 250, 100)
    assert cut.startswith("x" * 100) and "150 more characters" in cut
    config = JudgeConfig(criteria=(JudgeCriterion("a"),), max_code_chars=100)
    user = metric_judge_messages("y" * 1000, config)[1]["content"]
    assert "y" * 101 not in user and "900 more characters" in user


def test_the_server_rates_deterministically_from_the_code():
    reply = metric_judge_reply(metric_judge_messages(CODE, CONFIG))
    assert reply is not None and "```json" in reply
    assert reply == metric_judge_reply(metric_judge_messages(CODE, CONFIG))
    ratings = read_ratings(reply, NAMES)
    assert ratings.values["simplicity"] == pytest.approx(1 / (1 + 5 / 40), abs=1e-4)
    assert ratings.values["generality"] == judged_rating("generality", CODE)
    assert "5 non-empty lines" in ratings.rationale
    longer = CODE + "\n".join(f"x{i} = {i}" for i in range(40))
    assert judged_rating("simplicity", longer) < judged_rating("simplicity", CODE)
    assert judged_rating("generality", longer) != judged_rating("generality", CODE)


@settings(max_examples=100, deadline=None)
@given(code=st.text(max_size=300), criterion=st.from_regex(r"[a-z0-9_]{1,10}", fullmatch=True))
def test_server_ratings_are_in_the_unit_interval(code, criterion):
    assert 0.0 <= judged_rating(criterion, code) <= 1.0


@pytest.mark.parametrize(
    "reply",
    [
        '{"simplicity": 0.8, "generality": 0.25, "rationale": "ok"}',
        'Sure.\n```json\n{"simplicity": 0.8, "generality": 0.25, "rationale": "ok"}\n```\nDone.',
        'I rate it {"simplicity": 0.8, "generality": 0.25, "rationale": "ok"} overall.',
        '```\n{"Simplicity": "0.8", "generality": 0.25, "rationale": "ok"}\n```',
        '{"ratings": {"simplicity": 0.8, "generality": 0.25}, "rationale": "ok"}',
        '{"a": 1} then {"simplicity": 0.8, "generality": 0.25, "rationale": "ok"}',
    ],
)
def test_usable_replies_in_the_shapes_models_write(reply):
    ratings = read_ratings(reply, NAMES)
    assert ratings.values == {"simplicity": 0.8, "generality": 0.25}
    assert ratings.rationale == "ok"


def test_ratings_outside_the_unit_interval_are_clamped_and_the_rationale_is_optional():
    ratings = read_ratings('{"simplicity": 7, "generality": -0.5}', NAMES)
    assert ratings.values == {"simplicity": 1.0, "generality": 0.0}
    assert ratings.rationale == ""
    nested = read_ratings('{"simplicity": 1, "generality": 0, "rationale": ["a", 2]}', NAMES)
    assert nested.rationale == '["a", 2]'


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        (None, "no reply"),
        ("   ", "empty"),
        ("I think it is quite simple.", "no JSON object"),
        ("[0.5, 0.5]", "no JSON object"),
        ('{"simplicity": 0.5}', "no rating of 'generality'"),
        ('{"simplicity": 0.5, "generality": "high"}', "'generality' is 'high', not a number"),
        ('{"simplicity": 0.5, "generality": null}', "not a number"),
        ('{"simplicity": true, "generality": 0.5}', "not a number"),
        ('{"simplicity": NaN, "generality": 0.5}', "not a number"),
        ('{"simplicity": Infinity, "generality": 0.5}', "not a number"),
        ('{"simplicity": 0.5, "generality": {"v": 1}}', "not a number"),
        ('{"simplicity": 0.5, "generality": 0.5', "no JSON object"),
    ],
)
def test_unusable_replies_say_why(reply, why):
    with pytest.raises(UnusableReply, match=why):
        read_ratings(reply, NAMES)


def test_the_closest_object_explains_the_failure():
    reply = '{"x": 1}\n{"simplicity": 0.2, "generality": "n/a"}'
    with pytest.raises(UnusableReply, match="'generality' is 'n/a'"):
        read_ratings(reply, NAMES)


def test_pathological_replies_end_quickly():
    for reply in ("{" * 50_000, "[" * 50_000, '{"a":' * 20_000, "{" + " " * 200_000):
        with pytest.raises(UnusableReply):
            read_ratings(reply, NAMES)
    huge = '{"simplicity": 1' + "0" * 5000 + ', "generality": 0.5}'
    with pytest.raises(UnusableReply):
        read_ratings(huge, NAMES)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.integers()
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
keys = st.sampled_from(["simplicity", "generality", "rationale", "Simplicity", "ratings", "x"])
objects = st.dictionaries(keys, json_values, max_size=5)


@settings(max_examples=300, deadline=None)
@given(
    before=st.text(max_size=40),
    body=objects,
    after=st.text(max_size=40),
    fence=st.sampled_from(["", "```json\n", "```\n"]),
)
def test_json_ish_replies_never_raise_anything_but_unusable(before, body, after, fence):
    close = "\n```" if fence else ""
    reply = f"{before}{fence}{json.dumps(body)}{close}{after}"
    try:
        ratings = read_ratings(reply, NAMES)
    except UnusableReply as exc:
        assert str(exc)
        return
    assert set(ratings.values) == set(NAMES)
    assert all(0.0 <= v <= 1.0 and math.isfinite(v) for v in ratings.values.values())
    assert isinstance(ratings.rationale, str)


@settings(max_examples=300, deadline=None)
@given(reply=st.text(alphabet='{}[]":,.0123456789 abcdefghijklmnoprstuy-eE\n`', max_size=200))
def test_random_text_never_raises_anything_but_unusable(reply):
    try:
        ratings = read_ratings(reply, NAMES)
    except UnusableReply:
        return
    assert set(ratings.values) == set(NAMES)
