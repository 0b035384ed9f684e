"""Auth and malformed requests: OpenAI's status codes and error JSON."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import openai
import pytest

from evolve.testing import MutatorServer
from tests.testing.conftest import MakeServer
from tests.testing.helpers import post, prompt, sync_client


def test_wrong_or_missing_key_is_401(make_server: MakeServer) -> None:
    server = make_server(api_key="sekret")
    with sync_client(server.base_url, api_key="wrong") as c:
        with pytest.raises(openai.AuthenticationError) as info:
            c.chat.completions.create(model="m", messages=prompt())
        assert info.value.status_code == 401 and info.value.code == "invalid_api_key"
        assert info.value.type == "invalid_request_error"
        with pytest.raises(openai.AuthenticationError):
            c.models.list()
    status, body = post(server, "/v1/chat/completions", json.dumps({}).encode())
    assert status == 401 and body["error"]["code"] == "invalid_api_key"
    with sync_client(server.base_url, api_key="sekret") as c:
        assert c.chat.completions.create(model="m", messages=prompt()).choices
    assert server.stats == {"unauthorized": 3, "ok": 1}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"{not json", None),
        (b"[1, 2]", None),
        (json.dumps({"messages": [{"role": "user", "content": "x"}]}).encode(), "model"),
        (json.dumps({"model": "m", "messages": []}).encode(), "messages"),
        (json.dumps({"model": "m", "messages": [{"content": "x"}]}).encode(), "messages"),
        (json.dumps({"model": "m", "messages": [{"role": "user"}], "n": 0}).encode(), "n"),
        (json.dumps({"model": "m", "messages": [{"role": "user"}], "seed": "1"}).encode(), "seed"),
    ],
)
def test_malformed_requests_are_400_with_openai_error_json(
    server: MutatorServer, body: bytes, param: str | None
) -> None:
    status, reply = post(server, "/v1/chat/completions", body)
    assert status == 400
    assert set(reply["error"]) == {"message", "type", "param", "code"}
    assert reply["error"]["type"] == "invalid_request_error"
    assert reply["error"]["param"] == param
    assert server.stats == {"bad_request": 1}  # no fault slot was used


def test_bad_request_through_the_client(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="m", messages=[])


def test_unknown_path_and_wrong_method(server: MutatorServer) -> None:
    status, reply = post(server, "/v1/images/generations", b"{}")
    assert status == 404 and reply["error"]["code"] == "not_found"
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{server.base_url}/chat/completions", timeout=10)
    assert info.value.code == 405
    assert json.loads(info.value.read())["error"]["type"] == "invalid_request_error"
