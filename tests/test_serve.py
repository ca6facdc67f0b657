"""``textclf serve``: the Hugging Face text-classification API over a bundle, with the real
``huggingface_hub`` client, every error status, dynamic batching under concurrent load, the
Prometheus metrics, SIGTERM with requests in flight, and the page in a real browser."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import uvicorn
from prometheus_client.parser import text_string_to_metric_families

from textclf import runtime, serve
from tiny_runs import trained_bundle

TEXTS = ["a good film", "awful", "great acting and a fine plot", "dull and bad", "", "ok"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Any]:
    return trained_bundle(tmp_path_factory.mktemp("serve"))


@pytest.fixture(scope="module")
def bundle(trained) -> runtime.Bundle:
    return runtime.load(trained["bundle"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Running:
    """A server in a thread of the test process, at ``url``."""

    def __init__(self, settings: serve.ServeSettings) -> None:
        self.app = serve.create_app(settings)
        self.url = f"http://127.0.0.1:{settings.port}"
        config = uvicorn.Config(self.app, host="127.0.0.1", port=settings.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


@pytest.fixture
def start(trained) -> Iterator[Any]:
    """``start(**settings)``: a running server for the tiny bundle; stopped after the test."""
    running: list[Running] = []

    def make(**options: Any) -> Running:
        server = Running(serve.ServeSettings(bundle=str(trained["bundle"]), port=free_port(), **options))
        running.append(server)
        return server

    yield make
    for server in running:
        server.stop()


def call(url: str, body: Any = None, *, raw: bytes | None = None, headers: dict[str, str] | None = None,
         method: str | None = None) -> tuple[int, Any, dict[str, str]]:
    """(status, decoded JSON or text, headers) of one request."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, payload, got = response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        status, payload, got = exc.code, exc.read(), dict(exc.headers)
    kind = got.get("content-type", "")
    return status, json.loads(payload) if kind.startswith("application/json") else payload.decode(), got


def metric_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The values of a /metrics page, by (sample name, sorted labels), read by prometheus_client."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


# -- the API ----------------------------------------------------------------------------------------
def test_the_hugging_face_client_works_unmodified(start, bundle, monkeypatch):
    from huggingface_hub import InferenceClient, constants

    # The suite runs the hub offline (conftest.py); this client only talks to 127.0.0.1.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    server = start()
    client = InferenceClient(model=server.url)
    expected = bundle.predict_proba(["a good film"])[0]
    result = client.text_classification("a good film")
    assert [r.label for r in result] == [bundle.labels[i] for i in np.argsort(-expected)]
    assert [r.score for r in result] == pytest.approx(sorted(expected, reverse=True), abs=1e-6)
    top = client.text_classification("a good film", top_k=1, function_to_apply="sigmoid")
    logit = bundle.logits(["a good film"])[0]
    assert len(top) == 1 and top[0].label == bundle.labels[int(logit.argmax())]
    assert top[0].score == pytest.approx(1 / (1 + np.exp(-logit.max())), abs=1e-6)


def test_a_list_is_answered_in_order_like_the_runtime(start, bundle):
    server = start()
    for path in ("/", "/predict"):
        status, body, headers = call(server.url + path, {"inputs": TEXTS})
        assert status == 200
        assert len(body) == len(TEXTS)
        probabilities = bundle.predict_proba(TEXTS)
        for answer, row in zip(body, probabilities):
            assert [a["score"] for a in answer] == sorted([a["score"] for a in answer], reverse=True)
            assert {a["label"]: a["score"] for a in answer} == pytest.approx(dict(zip(bundle.labels, row)), abs=1e-6)
        assert headers["x-textclf-truncated"] == "0"
    status, body, _ = call(server.url, {"inputs": ["dull"], "parameters": {"function_to_apply": "none"}})
    assert body[0][0]["score"] == pytest.approx(float(bundle.logits(["dull"]).max()), abs=1e-5)
    status, body, _ = call(server.url, "a bare string")  # the shorthand for one text
    assert status == 200 and len(body) == 1


def test_health_info_and_metrics(start, bundle):
    server = start()
    assert call(server.url + "/health")[:2] == (200, {"status": "ok"})
    call(server.url, {"inputs": TEXTS})
    call(server.url, {"inputs": 3})
    status, info, _ = call(server.url + "/info")
    assert status == 200
    assert info["labels"] == bundle.labels and info["max_length"] == bundle.manifest["max_length"]
    assert info["truncation"] == bundle.manifest["truncation"]
    assert info["model"]["run"]["metrics"]["test"]["acc"] > 0.5
    assert info["versions"]["textclf"] and info["versions"]["onnxruntime"]
    assert "api_key" not in info["settings"] and info["settings"]["auth"] is False
    status, text, headers = call(server.url + "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    samples = metric_samples(text)
    assert samples[("textclf_requests_total", (("route", "predict"), ("status", "200")))] == 1
    assert samples[("textclf_requests_total", (("route", "predict"), ("status", "422")))] == 1
    assert samples[("textclf_texts_total", ())] == len(TEXTS)
    assert samples[("textclf_queue_texts", ())] == 0
    for histogram in ("textclf_batch_texts", "textclf_batch_tokens", "textclf_queue_wait_seconds",
                      "textclf_inference_seconds"):
        assert samples[(f"{histogram}_count", ())] >= 1
    assert samples[("textclf_request_seconds_count", (("route", "predict"),))] == 2


def test_the_page_is_served_without_a_key(start):
    server = start(api_key="sesame")
    status, page, headers = call(server.url + "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert "<textarea" in page and 'type="password"' in page and "neg, pos" in page


# -- refusals -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw, status, words", [
    (b"{not json", 422, "not JSON"),
    (b'{"text": "x"}', 422, '"inputs"'),
    (b'{"inputs": 3}', 422, "non-empty list"),
    (b'{"inputs": []}', 422, "non-empty list"),
    (b'{"inputs": ["a", 2]}', 422, "non-empty list"),
    (b'{"inputs": "a", "extra": 1}', 422, "unknown field"),
    (b'{"inputs": "a", "parameters": {"top_k": 0}}', 422, "top_k"),
    (b'{"inputs": "a", "parameters": {"top_k": true}}', 422, "top_k"),
    (b'{"inputs": "a", "parameters": {"function_to_apply": "relu"}}', 422, "function_to_apply"),
    (b'{"inputs": "a", "parameters": {"temperature": 2}}', 422, "unknown parameter"),
    (b'{"inputs": "a", "parameters": [1]}', 422, "must be an object"),
    (b'\xff\xfe', 422, "not JSON"),
    (json.dumps({"inputs": ["a"] * 5}).encode(), 413, "--max-inputs"),
    (json.dumps({"inputs": "x" * 101}).encode(), 413, "--max-input-chars"),
])
def test_bad_requests_get_a_json_error_and_the_server_goes_on(start, raw, status, words):
    server = start(max_inputs=4, max_input_chars=100)
    got, body, _ = call(server.url, raw=raw, headers={"Content-Type": "application/json"})
    assert got == status
    assert set(body) == {"error", "error_type"} and words in body["error"]
    assert "Traceback" not in body["error"]
    assert call(server.url, {"inputs": "a good film"})[0] == 200


def test_a_body_over_the_limit_is_413_declared_or_streamed(start):
    server = start(max_body_bytes=1000)
    status, body, _ = call(server.url, {"inputs": "x" * 2000})
    assert status == 413 and "--max-body-bytes" in body["error"]
    connection = http.client.HTTPConnection("127.0.0.1", int(server.url.rsplit(":", 1)[1]), timeout=30)
    connection.request("POST", "/", body=iter([b'{"inputs": "', b"y" * 800, b"y" * 800, b'"}']),
                       encode_chunked=True, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    assert response.status == 413 and "--max-body-bytes" in json.loads(response.read())["error"]
    connection.close()
    assert call(server.url, {"inputs": "fine"})[0] == 200


def test_a_one_megabyte_text(start, bundle):
    text = "a good film " * ((1 << 20) // 12)
    default = start()
    status, body, _ = call(default.url, {"inputs": text})
    assert status == 413 and "--max-input-chars" in body["error"]
    roomy = start(max_input_chars=2_000_000)
    status, body, headers = call(roomy.url, {"inputs": text})
    assert status == 200 and headers["x-textclf-truncated"] == "1"
    assert body[0][0]["label"] == bundle.predict([text])[0]


def test_api_key(start):
    server = start(api_key="sesame")
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "sesame"}):
        status, body, got = call(server.url, {"inputs": "x"}, headers=headers)
        assert status == 401 and body["error_type"] == "unauthorized" and got["www-authenticate"] == "Bearer"
        assert call(server.url + "/info", headers=headers)[0] == 401
        assert call(server.url + "/metrics", headers=headers)[0] == 401
    assert call(server.url, {"inputs": "x"}, headers={"Authorization": "Bearer sesame"})[0] == 200
    assert call(server.url + "/health")[0] == 200


def test_the_hugging_face_client_sends_the_key(start, monkeypatch):
    from huggingface_hub import InferenceClient, constants
    from huggingface_hub.errors import HfHubHTTPError

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    server = start(api_key="sesame")
    assert InferenceClient(model=server.url, token="sesame").text_classification("a good film")
    with pytest.raises(HfHubHTTPError, match="401"):
        InferenceClient(model=server.url, token="wrong").text_classification("a good film")


def test_unknown_routes_and_methods_are_json(start):
    server = start()
    status, body, _ = call(server.url + "/v1/nothing")
    assert status == 404 and body["error_type"] == "not_found"
    status, body, _ = call(server.url + "/health", {"inputs": "x"})
    assert status == 405 and body["error_type"] == "method_not_allowed"


def test_a_full_queue_is_429_with_retry_after(start):
    server = start(max_queue=3)
    status, body, headers = call(server.url, {"inputs": ["a", "b", "c", "d"]})
    assert status == 429 and headers["retry-after"] == "1" and "limit 3" in body["error"]
    assert call(server.url, {"inputs": ["a", "b", "c"]})[0] == 200


def test_an_inference_failure_is_a_json_500_and_the_server_goes_on(start, monkeypatch):
    server = start()
    bundle = server.app.state.server.bundle
    real = bundle.batch_logits
    monkeypatch.setattr(bundle, "batch_logits", lambda rows: (_ for _ in ()).throw(
        runtime.PredictionError("onnxruntime failed to run the model")))
    status, body, _ = call(server.url, {"inputs": "x"})
    assert status == 500 and body == {"error": "PredictionError: onnxruntime failed to run the model",
                                      "error_type": "server"}
    monkeypatch.setattr(bundle, "batch_logits", real)
    assert call(server.url, {"inputs": "x"})[0] == 200


# -- batching under load ----------------------------------------------------------------------------------
def test_concurrent_requests_are_batched_and_each_gets_its_own_answers(start, bundle):
    server = start(max_batch_wait_ms=20)
    texts = [f"{'a good film ' * (i % 7)}{'awful ' * (i % 5)}text {i}" for i in range(96)]
    expected = bundle.predict_proba(texts)

    def one(i: int) -> tuple[int, Any]:
        status, body, _ = call(server.url, {"inputs": texts[i]})
        return i, body

    with ThreadPoolExecutor(32) as pool:
        answers = dict(pool.map(one, range(len(texts))))
    for i, body in answers.items():
        assert {a["label"]: a["score"] for a in body[0]} == pytest.approx(
            dict(zip(bundle.labels, expected[i])), abs=1e-6)
    metrics = server.app.state.server.metrics
    batches = metrics.batch_texts.collect()[0]
    count = next(s.value for s in batches.samples if s.name.endswith("_count"))
    assert count < len(texts)  # requests shared batches (one more: the warm-up)


# -- the command --------------------------------------------------------------------------------------------
def serve_process(trained, *args: str) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    process = subprocess.Popen([str(Path(sys.executable).with_name("textclf")), "serve", str(trained["bundle"]),
                                "--port", str(port), "--log-level", "warning", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        assert process.poll() is None, process.communicate()
        try:
            if call(url + "/health")[0] == 200:
                return process, url
        except (urllib.error.URLError, ConnectionError):
            pass
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.1)


def test_sigterm_answers_every_request_in_flight_then_exits_0(trained, bundle):
    process, url = serve_process(trained, "--max-batch-wait-ms", "400", "--max-batch-tokens", "100000")
    texts = [f"a good film {i}" for i in range(24)]
    with ThreadPoolExecutor(24) as pool:
        futures = [pool.submit(call, url, {"inputs": text}) for text in texts]
        time.sleep(0.2)  # the requests are in, waiting for their batch
        process.send_signal(signal.SIGTERM)
        results = [future.result() for future in futures]
    assert [status for status, _, _ in results] == [200] * len(texts)
    assert [body[0][0]["label"] for _, body, _ in results] == bundle.predict(texts)
    assert process.wait(30) == 0
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        call(url + "/health")


def test_workers_share_one_view_of_the_metrics(trained, bundle):
    process, url = serve_process(trained, "--workers", "2")
    try:
        for i in range(12):
            status, body, _ = call(url, {"inputs": ["a good film", f"awful {i}"]})
            assert status == 200 and body[0][0]["label"] == bundle.predict(["a good film"])[0]
        status, text, _ = call(url + "/metrics")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    samples = metric_samples(text)
    assert samples[("textclf_texts_total", ())] == 24  # both workers' texts, whichever answered
    assert samples[("textclf_requests_total", (("route", "predict"), ("status", "200")))] == 12


def test_ten_thousand_requests_in_a_row_keep_memory_flat(trained):
    process, url = serve_process(trained)
    port = int(url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = json.dumps({"inputs": ["a good film", "awful"]})

    def send(n: int) -> None:
        for i in range(n):
            connection.request("POST", "/", body=body, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            assert response.status == 200, response.read()
            response.read()

    def rss() -> int:
        fields = Path(f"/proc/{process.pid}/status").read_text().split("\n")
        return int(next(f for f in fields if f.startswith("VmRSS:")).split()[1]) * 1024

    try:
        send(1000)
        before = rss()
        send(9000)
        after = rss()
    finally:
        connection.close()
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    assert after - before < 16 << 20, f"RSS grew {(after - before) / 2**20:.1f} MiB over 9,000 requests"


def test_a_bundle_that_is_not_one_is_one_line(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)  # never serve, whatever happens
    result = cli("serve", str(tmp_path / "missing"))
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    (tmp_path / "empty").mkdir()
    result = cli("serve", str(tmp_path / "empty"))
    assert result.returncode != 0 and "textclf.json" in result.stderr


def test_without_the_serve_extra_it_names_the_extra(cli, trained, monkeypatch):
    import textclf

    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)  # never serve, whatever happens
    for name in [n for n in sys.modules if n == "starlette" or n.startswith("starlette.")]:
        monkeypatch.setitem(sys.modules, name, None)  # as if it were not installed
    monkeypatch.delitem(sys.modules, "textclf.serve")
    monkeypatch.delattr(textclf, "serve")
    result = cli("serve", str(trained["bundle"]), "--port", str(free_port()))
    assert result.returncode != 0 and "pip install 'textclf[serve]'" in result.stderr


def test_an_empty_api_key_is_refused(cli, trained, monkeypatch):
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)  # never serve, whatever happens
    result = cli("serve", str(trained["bundle"]), "--port", str(free_port()), env={"TEXTCLF_API_KEY": " "})
    assert result.returncode != 0 and "--api-key" in result.stderr


# -- the page in a browser ----------------------------------------------------------------------------------
def chromium() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@pytest.mark.skipif(chromium() is None and not os.environ.get("CI"),
                    reason="needs Chromium and chromedriver (apt install chromium chromium-driver); "
                           ".ci/run installs them")
def test_the_page_classifies_a_review_in_a_real_browser(start, bundle):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    found = chromium()
    assert found is not None, "Chromium and chromedriver are missing: apt install chromium chromium-driver"
    server = start()
    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(found[1]), options=options)
    try:
        driver.get(server.url + "/")
        assert "neg, pos" in driver.find_element(By.TAG_NAME, "table").text
        review = "great acting and a fine plot, a good film"
        driver.find_element(By.ID, "text").send_keys(review)
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        label = WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "label").text)
        assert label == bundle.predict([review])[0]
        bars = driver.find_elements(By.CSS_SELECTOR, "#bars .bar")
        assert len(bars) == len(bundle.labels)
        assert bars[0].find_element(By.TAG_NAME, "div").size["width"] > 0
    finally:
        driver.quit()


def test_a_port_in_use_is_one_line_before_loading(cli, trained, monkeypatch):
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)  # never serve, whatever happens
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = cli("serve", str(trained["bundle"]), "--port", str(taken.getsockname()[1]))
    assert result.returncode != 0 and "cannot listen there" in result.stderr
    assert result.stderr.count("\n") == 1 and "serving" not in result.stderr
