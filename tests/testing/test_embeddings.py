"""``POST /v1/embeddings`` and the novelty judge, through the official client."""

from __future__ import annotations

import json

import numpy as np
import openai
import pytest

from evolve.novelty import HashedEmbedder
from evolve.novelty.judge import judge_messages
from evolve.testing import MutatorServer
from tests.testing.helpers import post


def test_embeddings_float_and_base64_match_the_hashed_embedder(
    client: openai.OpenAI,
) -> None:
    texts = ["def f(x):\n    return x + 1\n", "def g(y):\n    return y * y\n"]
    plain = client.embeddings.create(model="embed", input=texts, encoding_format="float")
    assert [d.index for d in plain.data] == [0, 1]
    expected = HashedEmbedder(256).embed_now(texts)
    got = np.array([d.embedding for d in plain.data], dtype=np.float32)
    assert np.allclose(got, expected, atol=1e-6)
    assert plain.usage.prompt_tokens == plain.usage.total_tokens > 0
    assert plain.model == "embed"
    # The client's default asks for base64 and decodes it itself.
    packed = client.embeddings.create(model="embed", input=texts[0], dimensions=32)
    vector = np.array(packed.data[0].embedding, dtype=np.float32)
    assert vector.shape == (32,)
    assert np.allclose(vector, HashedEmbedder(32).embed_now(texts[:1])[0], atol=1e-6)


def test_embedding_requests_that_are_wrong_get_openai_errors(
    client: openai.OpenAI, server: MutatorServer
) -> None:
    with pytest.raises(openai.BadRequestError, match="token arrays"):
        client.embeddings.create(model="embed", input=[[1, 2, 3]])
    with pytest.raises(openai.BadRequestError, match="dimensions"):
        client.embeddings.create(model="embed", input="x", dimensions=0)
    status, body = post(server, "/v1/embeddings", json.dumps({"model": "m"}).encode())
    assert status == 400 and body["error"]["param"] == "input"
    status, body = post(server, "/v1/embeddings", b"not json")
    assert status == 400 and "not valid JSON" in body["error"]["message"]


def test_the_judge_answers_deterministically(client: openai.OpenAI) -> None:
    tweak = judge_messages("return x * 2.5", "return x * 3.0", 0.97)
    change = judge_messages("return sorted(x)[0]", "return min(x)", 0.9)
    answers = [
        client.chat.completions.create(model="m", messages=m, seed=s).choices[0].message.content
        for m, s in ((tweak, 1), (tweak, 2), (change, 1))
    ]
    assert answers[0] == answers[1] and answers[0].startswith("NOT NOVEL")
    assert answers[2].startswith("NOVEL")
