"""engine.hub against a fake Hugging Face hub on 127.0.0.1 (nothing reaches the internet).

The fake serves the three calls ``snapshot_download`` makes: repo info, the file tree, and ``resolve`` (HEAD and
GET with Range). It can cut a file short once (a dropped connection) or fail a file (a download stopped midway).
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from engine.errors import ModelUnavailableError
from engine.hub import cached_models, download_model, hub_cache

COMMIT = "c0ffee" + "0" * 34
WEIGHTS = bytes(range(256)) * 8192  # 2 MiB


class FakeHub:
    def __init__(self, repos: dict[str, dict[str, bytes]]) -> None:
        self.repos = repos
        self.requests: list[tuple[str, str, str | None]] = []
        self.cut_once: set[str] = set()  # files whose first GET stops halfway
        self.fail: set[str] = set()  # files that answer 500
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def gets(self, filename: str) -> list[str | None]:
        """The Range header of each GET of ``filename`` (None = from the start)."""
        return [rng for method, path, rng in self.requests if method == "GET" and path.endswith("/" + filename)]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                self._serve(head=True)

            def do_GET(self) -> None:
                self._serve(head=False)

            def _reply(self, code: int, body: bytes = b"", headers: dict[str, str] | None = None,
                       head: bool = False, length: int | None = None) -> None:
                self.send_response(code)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body) if length is None else length))
                self.end_headers()
                if not head:
                    self.wfile.write(body)

            def _serve(self, head: bool) -> None:
                path = self.path.split("?")[0]
                hub.requests.append((self.command, path, self.headers.get("Range")))
                if m := re.fullmatch(r"/api/models/(.+?)/(revision|tree)/[^/]+", path):
                    files = hub.repos.get(m.group(1))
                    if files is None:
                        return self._reply(404, b'{"error": "Repository Not Found"}', {"X-Error-Code": "RepoNotFound"})
                    info = (
                        {"id": m.group(1), "sha": COMMIT, "siblings": [{"rfilename": f} for f in files]}
                        if m.group(2) == "revision"
                        else [{"type": "file", "path": f, "size": len(b), "oid": hashlib.sha1(b).hexdigest()}
                              for f, b in files.items()]
                    )
                    return self._reply(200, json.dumps(info).encode(), {"Content-Type": "application/json"}, head)
                if m := re.fullmatch(r"/(.+?)/resolve/[^/]+/(.+)", path):
                    data = hub.repos.get(m.group(1), {}).get(m.group(2))
                    if data is None:
                        return self._reply(404, b"", {"X-Error-Code": "EntryNotFound"}, head)
                    headers = {"ETag": f'"{hashlib.sha1(data).hexdigest()}"', "X-Repo-Commit": COMMIT}
                    if head:
                        return self._reply(200, data, headers, head=True)
                    if m.group(2) in hub.fail:
                        return self._reply(500, b"server error")
                    if m.group(2) in hub.cut_once:  # promise the whole file, send half, hang up
                        hub.cut_once.discard(m.group(2))
                        self._reply(200, data[: len(data) // 2], headers, length=len(data))
                        self.close_connection = True
                        return None
                    if rng := self.headers.get("Range"):
                        start = int(rng.removeprefix("bytes=").split("-")[0])
                        headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
                        return self._reply(206, data[start:], headers)
                    return self._reply(200, data, headers)
                return self._reply(404)

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def closed_port_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens (a fresh port, so no kept-alive connection reaches it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TUTOR_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture()
def fake_hub():
    hub = FakeHub({"tiny-org/tiny-qwen": {"config.json": b'{"model_type": "qwen2"}', "model.safetensors": WEIGHTS}})
    yield hub
    hub.close()


def test_download_from_a_local_fake_hub_with_progress(cache, fake_hub):
    reports: list[tuple[float, str]] = []
    path = download_model("tiny-org/tiny-qwen", source="huggingface", hf_endpoint=fake_hub.url,
                          progress=lambda f, t: reports.append((f, t)))
    assert path.is_relative_to(hub_cache("huggingface")) and path.name == COMMIT
    assert (path / "model.safetensors").read_bytes() == WEIGHTS
    assert json.loads((path / "config.json").read_text()) == {"model_type": "qwen2"}
    assert any("MiB" in text for _, text in reports) and reports[-1] == (1.0, "tiny-org/tiny-qwen is ready")
    assert all(0.0 <= f <= 1.0 for f, _ in reports)
    assert [(m.model_id, m.source, m.path) for m in cached_models()] == [("tiny-org/tiny-qwen", "huggingface", path)]


def test_a_dropped_connection_resumes_where_it_stopped(cache, fake_hub, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 64 * 1024)  # real files span many 10 MB chunks
    fake_hub.cut_once.add("model.safetensors")
    path = download_model("tiny-org/tiny-qwen", source="huggingface", hf_endpoint=fake_hub.url)
    assert (path / "model.safetensors").read_bytes() == WEIGHTS
    assert fake_hub.gets("model.safetensors") == [None, f"bytes={len(WEIGHTS) // 2}-"]


def test_a_stopped_download_keeps_finished_files_and_the_next_run_completes(cache, fake_hub):
    fake_hub.fail.add("model.safetensors")
    with pytest.raises(ModelUnavailableError, match="run again to resume"):
        download_model("tiny-org/tiny-qwen", source="huggingface", hf_endpoint=fake_hub.url)
    fake_hub.fail.clear()
    path = download_model("tiny-org/tiny-qwen", source="huggingface", hf_endpoint=fake_hub.url)
    assert (path / "model.safetensors").read_bytes() == WEIGHTS
    assert len(fake_hub.gets("config.json")) == 1  # fetched once, kept from the first run


def test_a_cached_model_is_served_when_the_hub_is_unreachable(cache, fake_hub):
    first = download_model("tiny-org/tiny-qwen", source="huggingface", hf_endpoint=fake_hub.url)
    again = download_model("tiny-org/tiny-qwen", source="huggingface", hf_endpoint=closed_port_url())
    assert again == first


def test_unreachable_hub_error_lists_cached_models(cache, fake_hub):
    download_model("tiny-org/tiny-qwen", source="huggingface", hf_endpoint=fake_hub.url)
    with pytest.raises(ModelUnavailableError) as err:
        download_model("other-org/not-here", source="huggingface", hf_endpoint=closed_port_url())
    message = str(err.value)
    assert "cannot reach the hub" in message and "other-org/not-here" in message
    assert "Models already on this machine: tiny-org/tiny-qwen (Hugging Face)" in message


def test_offline_mode_is_named_in_the_error(cache, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # what HF_HUB_OFFLINE=1 sets at import
    with pytest.raises(ModelUnavailableError, match="HF_HUB_OFFLINE=1 is set") as err:
        download_model("Qwen/Qwen2.5-Math-1.5B-Instruct", source="huggingface")
    assert "No downloaded models are cached yet" in str(err.value)


def test_unknown_repository_on_the_hub(cache, fake_hub):
    with pytest.raises(ModelUnavailableError, match="no model nobody/nothing there"):
        download_model("nobody/nothing", source="huggingface", hf_endpoint=fake_hub.url)


def test_auto_tries_modelscope_under_its_own_id_when_no_hub_answers(cache):
    """Both hubs on closed local ports: the message covers both, with ModelScope's id for InternLM."""
    with pytest.raises(ModelUnavailableError) as err:
        download_model("internlm/internlm2-math-plus-1_8b", source="auto",
                       hf_endpoint=closed_port_url(), modelscope_endpoint=closed_port_url())
    message = str(err.value)
    assert "Hugging Face (internlm/internlm2-math-plus-1_8b): cannot reach the hub" in message
    assert "ModelScope (Shanghai_AI_Laboratory/internlm2-math-plus-1_8b): cannot reach the hub" in message


@pytest.mark.parametrize("bad", ["not a hub id", "../etc/passwd", "a/b/c"])
def test_malformed_ids_are_refused_before_any_request(cache, bad):
    with pytest.raises(ModelUnavailableError, match="not a hub id"):
        download_model(bad, source="huggingface", hf_endpoint=closed_port_url())
