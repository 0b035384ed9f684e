"""Record a run's completions, then replay them bit for bit with no network."""

from __future__ import annotations

import json
import re

import pytest

from evolve.config import ModelSpec
from evolve.mutation.llm import RECORD_FILE, LLMFatalError, LLMProposer, ReplayMissing
from evolve.mutation.prompts import PromptBuilder
from tests.mutation.llm.helpers import INSPIRATION, PARENT, config, model, run

SEEDS = range(8)


async def proposals(cfg, **paths):
    proposer = LLMProposer.create(cfg, PromptBuilder("You improve programs."), **paths)
    try:
        out = [await proposer.propose(PARENT, [INSPIRATION], s) for s in SEEDS]
        return out, proposer.drain_calls()
    finally:
        await proposer.aclose()


def test_a_replay_gives_byte_identical_completions_with_the_server_gone(server, tmp_path):
    srv = server(script=["ok", "429", "ok", "empty_choices"])
    cfg = config(model(srv, price_input_per_mtok=1.0))
    record = tmp_path / "run" / RECORD_FILE
    recorded, live_calls = run(proposals(cfg, record_path=record))
    srv.close()
    lines = record.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(SEEDS)  # one line per successful call, retries excluded
    assert json.loads(lines[0])["text"] == recorded[0].text

    replayed, replay_calls = run(proposals(cfg, replay_path=record))
    assert [p.text.encode() for p in replayed] == [p.text.encode() for p in recorded]
    assert [p.edit_kind for p in replayed] == [p.edit_kind for p in recorded]
    assert [p.extra_parent_ids for p in replayed] == [p.extra_parent_ids for p in recorded]
    assert recorded[2].text == replayed[2].text == ""  # an empty reply replays as empty
    assert all(c.replayed and c.retries == 0 for c in replay_calls)
    assert [
        (c.prompt_hash, c.prompt_tokens, c.completion_tokens, c.cost_usd) for c in replay_calls
    ] == [(c.prompt_hash, c.prompt_tokens, c.completion_tokens, c.cost_usd) for c in live_calls]


def test_a_request_missing_from_the_record_is_a_clear_error(server, tmp_path):
    srv = server()
    cfg = config(model(srv))
    record = tmp_path / RECORD_FILE
    run(proposals(cfg, record_path=record))
    other = config(model(srv, temperature=0.1))  # a different request: another hash
    with pytest.raises(ReplayMissing) as err:
        run(proposals(other, replay_path=record))
    message = str(err.value)
    assert str(record) in message and "not in the replay record" in message
    assert re.search(r"request [0-9a-f]{64} ", message)


def test_a_record_cut_mid_line_by_a_crash_still_replays(server, tmp_path):
    srv = server()
    cfg = config(model(srv))
    record = tmp_path / RECORD_FILE
    recorded, _ = run(proposals(cfg, record_path=record))
    with record.open("a", encoding="utf-8") as f:
        f.write('{"prompt_hash": "abc", "te')
    replayed, _ = run(proposals(cfg, replay_path=record))
    assert [p.text for p in replayed] == [p.text for p in recorded]


def test_a_missing_or_corrupt_record_fails_at_start(tmp_path):
    cfg = config(ModelSpec(name="m", base_url="http://127.0.0.1:9/v1", api_key_env=""))
    with pytest.raises(LLMFatalError, match="no such replay record"):
        LLMProposer.create(cfg, PromptBuilder("s"), replay_path=tmp_path / "none.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n{}\n", encoding="utf-8")
    with pytest.raises(LLMFatalError, match=r"bad\.jsonl:1: not a record line"):
        LLMProposer.create(cfg, PromptBuilder("s"), replay_path=bad)
