"""``textclf serve``: an exported bundle behind HTTP, never importing torch.

The API is the Hugging Face text-classification task's, so existing clients work unmodified
(``huggingface_hub.InferenceClient(model=URL).text_classification(text)``, or a plain POST of
``{"inputs": ..., "parameters": {"top_k": k, "function_to_apply": ...}}`` to ``/`` or
``/predict``). ``GET /health``, ``/info`` and ``/metrics`` (Prometheus) are for operators;
``GET /`` is a page to try the model in a browser.

Requests are encoded as they arrive (``textclf.text``, in a thread), then queued. One batcher
forms length-sorted batches under a padded-token budget, the rule ``textclf.runtime`` batches
by, waiting at most ``max_batch_wait_ms`` for company when the queue holds less than a batch,
and runs each batch on an inference thread, so that the event loop never blocks (onnxruntime
releases the GIL). While a batch runs the next one gathers, which is where the throughput under
concurrent load comes from. Each request gets its own texts' answers, in its order.

Built on Starlette and uvicorn, with prometheus-client's metrics: ``pip install 'textclf[serve]'``.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import json
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from textclf import __version__, runtime
from textclf.runtime import Bundle

#: The settings ``textclf serve --workers N`` hands each worker process.
SETTINGS_ENV = "TEXTCLF_SERVE_SETTINGS"
#: Where prometheus-client's workers share their metrics (set by ``serve`` for ``--workers``).
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
FUNCTIONS = ("softmax", "sigmoid", "none")
#: Latency buckets, in seconds: from a cached short text to a long queue.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(frozen=True)
class ServeSettings:
    """How ``textclf serve`` runs; every field is a command-line option of the same name."""

    bundle: str
    host: str = "127.0.0.1"
    port: int = 8080
    #: Server processes, each with its own copy of the model (for more cores than one uses).
    workers: int = 1
    #: onnxruntime threads per worker (default: the cores, shared among the workers).
    threads: int | None = None
    #: Padded tokens per batch (default: runtime.MAX_BATCH_TOKENS of the device).
    max_batch_tokens: int | None = None
    #: How long a batch that is not full waits for more texts, in milliseconds.
    max_batch_wait_ms: float = 2.0
    #: Texts waiting for a batch beyond which requests are refused (429).
    max_queue: int = 4096
    #: Texts in one request.
    max_inputs: int = 256
    #: Characters in one text (longer texts are refused: 413; the model reads its first
    #: max-length tokens in any case).
    max_input_chars: int = 200_000
    #: Bytes in one request body.
    max_body_bytes: int = 8 << 20
    #: Required as ``Authorization: Bearer KEY`` on every route except /health and the page.
    api_key: str | None = field(default=None, repr=False)
    provider: str = "auto"
    trusted_keys: tuple[str, ...] = ()


class ApiError(Exception):
    """A request the server refuses: its status, and one line saying why."""

    def __init__(self, status: int, error_type: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.error_type, self.message, self.headers = status, error_type, message, headers


def error_response(status: int, error_type: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "error_type": error_type}, status_code=status, headers=headers)


class Metrics:
    """The server's Prometheus metrics, in a registry of their own. Under ``--workers`` (when
    ``PROMETHEUS_MULTIPROC_DIR`` is set) every worker writes its values there and ``exposition``
    sums them, so that any worker's /metrics reports the whole server."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self.shared = bool(os.environ.get(MULTIPROCESS_ENV))
        self.requests = Counter("textclf_requests", "HTTP requests answered, by route and status.",
                                ["route", "status"], registry=registry)
        self.texts = Counter("textclf_texts", "Texts classified.", registry=registry)
        self.truncated = Counter("textclf_truncated_texts", "Texts cut to the model's max length.",
                                 registry=registry)
        self.queue = Gauge("textclf_queue_texts", "Texts waiting for a batch.", registry=registry,
                           multiprocess_mode="livesum")
        self.batch_texts = Histogram("textclf_batch_texts", "Texts per batch run.", registry=registry,
                                     buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512))
        self.batch_tokens = Histogram("textclf_batch_tokens", "Padded tokens per batch run.", registry=registry,
                                      buckets=(64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768))
        self.queue_wait = Histogram("textclf_queue_wait_seconds", "Time a text waited for its batch.",
                                    registry=registry, buckets=LATENCY_BUCKETS)
        self.inference = Histogram("textclf_inference_seconds", "Time to run one batch.",
                                   registry=registry, buckets=LATENCY_BUCKETS)
        self.latency = Histogram("textclf_request_seconds", "Time to answer a request, by route.",
                                 ["route"], registry=registry, buckets=LATENCY_BUCKETS)

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format: this process's, or every worker's summed."""
        if not self.shared:
            return generate_latest(self.registry)
        from prometheus_client import multiprocess

        combined = CollectorRegistry()
        multiprocess.MultiProcessCollector(combined)
        return generate_latest(combined)


@dataclass
class _Item:
    row: list[int]
    future: asyncio.Future[np.ndarray]
    arrived: float


class QueueFull(Exception):
    pass


class Batcher:
    """Gathers encoded texts from concurrent requests into length-sorted batches under a
    padded-token budget, and runs them one at a time on an inference thread."""

    def __init__(self, bundle: Bundle, metrics: Metrics, *, max_batch_tokens: int,
                 max_wait_s: float, max_queue: int) -> None:
        self.bundle, self.metrics = bundle, metrics
        self.max_batch_tokens, self.max_wait_s, self.max_queue = max_batch_tokens, max_wait_s, max_queue
        self.pending: list[_Item] = []
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="textclf-inference")
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    @property
    def waiting(self) -> int:
        return len(self.pending)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="textclf-batcher")

    async def close(self) -> None:
        """Run what is queued, then stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
        self.executor.shutdown(wait=True)

    async def logits(self, rows: Sequence[list[int]]) -> np.ndarray:
        """The logits of ``rows``, one row each, once their batches ran; QueueFull when the queue
        has no room for them."""
        if self._closing:
            raise QueueFull("the server is shutting down")
        if self.waiting + len(rows) > self.max_queue:
            raise QueueFull(f"{self.waiting:,} texts are waiting (limit {self.max_queue:,})")
        loop, now = asyncio.get_running_loop(), time.perf_counter()
        items = [_Item(list(row), loop.create_future(), now) for row in rows]
        self.pending.extend(items)
        self.metrics.queue.set(self.waiting)
        self._wake.set()
        return np.stack(await asyncio.gather(*(item.future for item in items)))

    def _padded(self) -> int:
        return len(self.pending) * max(1, max(len(item.row) for item in self.pending))

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self.pending:
                if self._closing:
                    return
                continue
            # Company: a batch that is not full waits a little for more texts.
            deadline = self.pending[0].arrived + self.max_wait_s
            while not self._closing and self._padded() < self.max_batch_tokens:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                try:
                    await asyncio.wait_for(self._wake.wait(), remaining)
                except asyncio.TimeoutError:
                    break
                self._wake.clear()
            taken, self.pending = self.pending, []
            self.metrics.queue.set(0)
            lengths = [len(item.row) for item in taken]
            for chosen in runtime.batches(lengths, self.max_batch_tokens, self.max_batch_tokens):
                batch = [taken[i] for i in chosen]
                started = time.perf_counter()
                for item in batch:
                    self.metrics.queue_wait.observe(started - item.arrived)
                try:
                    logits = await loop.run_in_executor(self.executor, self.bundle.batch_logits,
                                                        [item.row for item in batch])
                except Exception as exc:  # the requests answer with it; the server keeps serving
                    for item in batch:
                        if not item.future.done():
                            item.future.set_exception(exc)
                    continue
                self.metrics.inference.observe(time.perf_counter() - started)
                self.metrics.batch_texts.observe(len(batch))
                self.metrics.batch_tokens.observe(len(batch) * max(lengths[i] for i in chosen))
                for item, row in zip(batch, logits):
                    if not item.future.done():
                        item.future.set_result(row)
            self.metrics.queue.set(self.waiting)
            if self.pending:
                self._wake.set()


# -- the request payload ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Query:
    texts: list[str]
    top_k: int | None
    function: str


def parse_query(body: bytes, settings: ServeSettings, default_function: str = "softmax") -> Query:
    """The texts and parameters of a text-classification request; ApiError (422, 413) when the
    body is not one. ``default_function``: the bundle's own (sigmoid for a multi-label one)."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(422, "validation", f"the body is not JSON ({exc}); send "
                       f'{{"inputs": "text"}} or {{"inputs": ["text", ...]}}') from None
    if isinstance(payload, str):  # a bare string is a common shorthand for one text
        payload = {"inputs": payload}
    if not isinstance(payload, dict) or "inputs" not in payload:
        raise ApiError(422, "validation", 'the body must be a JSON object with "inputs": a text or a '
                       "list of texts")
    unknown = sorted(set(payload) - {"inputs", "parameters", "options"})
    if unknown:
        raise ApiError(422, "validation", f"unknown field(s) {', '.join(map(repr, unknown))}; the body "
                       f'takes "inputs" and "parameters"')
    inputs = payload["inputs"]
    texts = [inputs] if isinstance(inputs, str) else inputs
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise ApiError(422, "validation", '"inputs" must be a text or a non-empty list of texts')
    if len(texts) > settings.max_inputs:
        raise ApiError(413, "validation", f'"inputs" holds {len(texts):,} texts (limit '
                       f"{settings.max_inputs:,}, --max-inputs); send them in smaller requests")
    for i, text in enumerate(texts):
        if len(text) > settings.max_input_chars:
            raise ApiError(413, "validation", f"input {i} has {len(text):,} characters (limit "
                           f"{settings.max_input_chars:,}, --max-input-chars); send less of it")
    parameters = payload.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise ApiError(422, "validation", '"parameters" must be an object')
    unknown = sorted(k for k, v in parameters.items() if k not in ("top_k", "function_to_apply") and v is not None)
    if unknown:
        raise ApiError(422, "validation", f"unknown parameter(s) {', '.join(map(repr, unknown))}; "
                       f"text classification takes top_k and function_to_apply")
    top_k = parameters.get("top_k")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ApiError(422, "validation", f'"top_k" {top_k!r}: must be a whole number, 1 or more')
    function = parameters.get("function_to_apply") or default_function
    if function not in FUNCTIONS:
        raise ApiError(422, "validation", f'"function_to_apply" {function!r}: choose one of '
                       f"{', '.join(FUNCTIONS)}")
    return Query(texts, top_k, function)


def scores(logits: np.ndarray, function: str) -> np.ndarray:
    if function == "softmax":
        return runtime.softmax(logits)
    if function == "sigmoid":
        return runtime.sigmoid(logits)
    return logits.astype(np.float64)


def answer(labels: Sequence[str], logits: np.ndarray, query: Query) -> list[list[dict[str, Any]]]:
    """One list per text of ``{"label", "score"}``, highest score first, ``top_k`` long."""
    out = []
    for row in scores(logits, query.function):
        order = np.argsort(-row, kind="stable")[:query.top_k]
        out.append([{"label": labels[i], "score": float(row[i])} for i in order])
    return out


# -- the application --------------------------------------------------------------------------------
class Server:
    """The state behind the routes: the bundle, its batcher, the metrics and the settings."""

    def __init__(self, settings: ServeSettings, bundle: Bundle | None = None) -> None:
        self.settings, self.bundle = settings, bundle
        self.metrics = Metrics()
        self.batcher: Batcher | None = None
        self.ready = False
        self.started = time.time()

    def load(self) -> Bundle:
        if self.bundle is None:
            s = self.settings
            self.bundle = runtime.load(s.bundle, threads=s.threads, provider=s.provider,
                                       max_batch_tokens=s.max_batch_tokens, trusted_keys=s.trusted_keys or None)
        return self.bundle

    async def start(self) -> None:
        bundle = await asyncio.get_running_loop().run_in_executor(None, self.load)
        self.batcher = Batcher(bundle, self.metrics, max_batch_tokens=bundle.max_batch_tokens,
                               max_wait_s=self.settings.max_batch_wait_ms / 1000, max_queue=self.settings.max_queue)
        self.batcher.start()
        rows, _ = bundle.encoder.encode_batch_checked(["a warm-up text for the model"] * 2)
        await self.batcher.logits(rows)  # the first batch sets onnxruntime up: not a user's wait
        self.ready = True

    async def stop(self) -> None:
        self.ready = False
        if self.batcher is not None:
            await self.batcher.close()

    def authorized(self, request: Request) -> None:
        key = self.settings.api_key
        if not key:
            return
        given = request.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), key.encode()):
            raise ApiError(401, "unauthorized", "missing or wrong API key; send the header "
                           "'Authorization: Bearer KEY'" if given else "this server needs an API key; "
                           "send the header 'Authorization: Bearer KEY'",
                           headers={"WWW-Authenticate": "Bearer"})

    async def body(self, request: Request) -> bytes:
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise ApiError(413, "validation", f"the body has {int(declared):,} bytes (limit {limit:,}, "
                           f"--max-body-bytes); send fewer or shorter texts per request")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError(413, "validation", f"the body has more than {limit:,} bytes "
                               f"(--max-body-bytes); send fewer or shorter texts per request")
            chunks.append(chunk)
        return b"".join(chunks)

    async def predict(self, request: Request) -> Response:
        self.authorized(request)
        if not self.ready or self.batcher is None:
            raise ApiError(503, "unavailable", "the model is not loaded yet, or the server is stopping; "
                           "retry shortly", headers={"Retry-After": "1"})
        bundle = self.load()
        query = parse_query(await self.body(request), self.settings,
                            "sigmoid" if bundle.multi_label else "softmax")
        loop = asyncio.get_running_loop()
        rows, truncated = await loop.run_in_executor(None, bundle.encoder.encode_batch_checked, query.texts)
        try:
            logits = await self.batcher.logits(rows)
        except QueueFull as exc:
            raise ApiError(429, "overloaded", f"too busy: {exc}; retry after a second",
                           headers={"Retry-After": "1"}) from None
        self.metrics.texts.inc(len(rows))
        self.metrics.truncated.inc(sum(truncated))
        result = answer(bundle.labels, logits, query)
        return JSONResponse(result, headers={"X-Textclf-Truncated": str(sum(truncated))})

    async def health(self, request: Request) -> Response:
        if not self.ready:
            return error_response(503, "unavailable", "the model is not ready")
        return JSONResponse({"status": "ok"})

    async def info(self, request: Request) -> Response:
        self.authorized(request)
        return JSONResponse(self.describe())

    def describe(self) -> dict[str, Any]:
        import onnxruntime
        import tokenizers

        bundle = self.load()
        manifest = bundle.manifest
        settings = {k: v for k, v in asdict(self.settings).items() if k not in ("api_key", "bundle", "trusted_keys")}
        return {"model": {"run": manifest.get("run"), "quantization": manifest.get("quantization"),
                          "producer": manifest.get("producer"), "format": manifest.get("format"),
                          "checks": manifest.get("checks")},
                "labels": bundle.labels, "task": bundle.task,
                "thresholds": None if bundle.thresholds is None else bundle.thresholds.tolist(),
                "max_length": manifest["max_length"],
                "truncation": manifest["truncation"], "bundle": str(bundle.directory),
                "bundle_digest": runtime.manifest_digest(manifest),
                "provider": bundle.session.get_providers()[0],
                "max_batch_tokens": bundle.max_batch_tokens,
                "settings": {**settings, "auth": bool(self.settings.api_key)},
                "versions": {"textclf": __version__, "onnxruntime": onnxruntime.__version__,
                             "tokenizers": tokenizers.__version__, "python": sys.version.split()[0]}}

    async def metrics_page(self, request: Request) -> Response:
        self.authorized(request)
        return Response(self.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    async def page(self, request: Request) -> Response:
        return HTMLResponse(page_html(self.describe()))


def _route(server: Server, name: str, handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """``handler`` answering errors as JSON, counted and timed under ``name``."""
    async def endpoint(request: Request) -> Response:
        started = time.perf_counter()
        try:
            response = await handler(request)
        except ApiError as exc:
            response = error_response(exc.status, exc.error_type, exc.message, exc.headers)
        except ClientDisconnect:
            response = error_response(499, "disconnected", "the client went away")
        except Exception as exc:  # never a traceback to the client; the log keeps it
            traceback.print_exc(file=sys.stderr)
            reason = (str(exc).strip().splitlines() or [""])[0]
            response = error_response(500, "server", f"{type(exc).__name__}: {reason}")
        server.metrics.requests.labels(name, str(response.status_code)).inc()
        server.metrics.latency.labels(name).observe(time.perf_counter() - started)
        return response
    return endpoint


def create_app(settings: ServeSettings, bundle: Bundle | None = None) -> Starlette:
    """The ASGI application serving ``settings.bundle`` (or the already loaded ``bundle``)."""
    server = Server(settings, bundle)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        await server.start()
        try:
            yield
        finally:
            await server.stop()

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        name = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http")
        server.metrics.requests.labels("other", str(exc.status_code)).inc()
        return error_response(exc.status_code, name, f"{request.method} {request.url.path}: {exc.detail}; "
                              f"the API is POST / or /predict, GET /health, /info, /metrics")

    routes = [Route("/", _route(server, "predict", server.predict), methods=["POST"]),
              Route("/predict", _route(server, "predict", server.predict), methods=["POST"]),
              Route("/", _route(server, "page", server.page), methods=["GET"]),
              Route("/health", _route(server, "health", server.health), methods=["GET"]),
              Route("/info", _route(server, "info", server.info), methods=["GET"]),
              Route("/metrics", _route(server, "metrics", server.metrics_page), methods=["GET"])]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error})
    app.state.server = server
    return app


def app_from_environment() -> Starlette:
    """The application a ``--workers`` process serves: the settings come in ``SETTINGS_ENV``."""
    values = json.loads(os.environ[SETTINGS_ENV])
    values["trusted_keys"] = tuple(values.get("trusted_keys") or ())
    return create_app(ServeSettings(**values))


def serve(settings: ServeSettings, bundle: Bundle | None = None, log_level: str = "info") -> None:
    """Run the server until SIGINT or SIGTERM: it then stops accepting connections, answers what
    is queued and running, and returns."""
    import uvicorn

    common: dict[str, Any] = {"host": settings.host, "port": settings.port, "log_level": log_level,
                              "timeout_graceful_shutdown": 30}
    # uvicorn raises the SIGTERM it shut down on again once done; a stop asked for is a success.
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, lambda *_: None) if main else None
    try:
        if settings.workers > 1:
            with tempfile.TemporaryDirectory(prefix="textclf-serve-metrics-") as shared:
                os.environ[SETTINGS_ENV] = json.dumps(asdict(settings))
                os.environ[MULTIPROCESS_ENV] = shared  # read by each worker's prometheus-client
                uvicorn.run("textclf.serve:app_from_environment", factory=True, workers=settings.workers,
                            **common)
        else:
            uvicorn.run(create_app(settings, bundle), **common)
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)


def default_threads(workers: int) -> int | None:
    """onnxruntime threads per worker: the cores shared among the workers (None: onnxruntime's
    own default, all cores, for one worker)."""
    if workers <= 1:
        return None
    return max(1, (os.cpu_count() or 1) // workers)


# -- the page ---------------------------------------------------------------------------------------
def page_html(info: dict[str, Any]) -> str:
    """A page to try the model: a text box, the labels' scores as bars, the model's facts."""
    model = info["model"]
    run = model.get("run") or {}
    facts = [("labels", ", ".join(info["labels"])), ("max length", f"{info['max_length']} tokens "
             f"({info['truncation']} kept)"), ("quantization", model.get("quantization") or "none (fp32)"),
             ("trained", " / ".join(str(run[k]) for k in ("data", "model", "lit_model") if run.get(k))),
             ("provider", info["provider"])]
    for split, values in (run.get("metrics") or {}).items():
        for name, value in (values or {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                facts.append((f"{split} {name}", f"{value:.4f}"))
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in facts)
    key_field = ('<input id="key" type="password" placeholder="API key" autocomplete="off">'
                 if info["settings"]["auth"] else "")
    title = html.escape(str(run.get("name") or Path(info["bundle"]).name))
    return _PAGE.replace("{title}", title).replace("{facts}", rows).replace("{key}", key_field)


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>textclf: {title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}
textarea{width:100%;min-height:8rem;font:inherit;box-sizing:border-box}
button{font:inherit;padding:.3rem 1.2rem;margin:.5rem 0}
.bar{display:flex;align-items:center;margin:.2rem 0}.bar span{width:10rem}
.bar div{background:#4c78a8;height:1.1rem;margin-right:.5rem}
table{border-collapse:collapse;margin-top:1.5rem}th,td{text-align:left;padding:.1rem 1rem .1rem 0}
#error{color:#b00}
</style></head><body>
<h1>{title}</h1>
<form id="form"><textarea id="text" placeholder="A text to classify"></textarea>{key}<br>
<button type="submit">Classify</button></form>
<div id="label" data-testid="label"></div><div id="bars"></div><div id="error"></div>
<table>{facts}</table>
<script>
document.getElementById("form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const headers = {"Content-Type": "application/json"};
  const key = document.getElementById("key");
  if (key && key.value) headers["Authorization"] = "Bearer " + key.value;
  const error = document.getElementById("error"), bars = document.getElementById("bars");
  error.textContent = "";
  try {
    const response = await fetch("/predict", {method: "POST", headers,
      body: JSON.stringify({inputs: document.getElementById("text").value})});
    const body = await response.json();
    if (!response.ok) { error.textContent = body.error; return; }
    const scores = body[0];
    document.getElementById("label").textContent = scores[0].label;
    bars.replaceChildren(...scores.map(({label, score}) => {
      const row = document.createElement("div"); row.className = "bar";
      const name = document.createElement("span"); name.textContent = label;
      const bar = document.createElement("div"); bar.style.width = (score * 20) + "rem";
      const value = document.createElement("em"); value.textContent = score.toFixed(4);
      row.append(name, bar, value); return row;
    }));
  } catch (e) { error.textContent = String(e); }
});
</script></body></html>
"""
