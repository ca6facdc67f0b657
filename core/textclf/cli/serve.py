"""``textclf serve BUNDLE``: the bundle behind HTTP (``textclf.serve``); never imports torch."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import click

from textclf.console import info
from textclf.errors import TextclfError, UsageError

API_KEY_ENV = "TEXTCLF_API_KEY"


@click.command("serve")
@click.argument("bundle_path", metavar="BUNDLE", type=click.Path(file_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every interface; put the server behind TLS then).")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="Port to listen on.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Server processes, each with its own copy of the model (for more cores).")
@click.option("--threads", type=click.IntRange(min=1),
              help="onnxruntime threads per worker.  [default: the cores, shared among the workers]")
@click.option("--max-batch-tokens", type=click.IntRange(min=1),
              help="Most padded tokens in one batch.  [default: 1024 on a CPU, 16384 on a GPU]")
@click.option("--max-batch-wait-ms", type=click.FloatRange(min=0), default=2.0, show_default=True,
              help="How long a batch that is not full waits for texts from other requests.")
@click.option("--max-queue", type=click.IntRange(min=1), default=4096, show_default=True,
              help="Texts waiting for a batch beyond which requests get 429 (retry later).")
@click.option("--max-inputs", type=click.IntRange(min=1), default=256, show_default=True,
              help="Most texts in one request (more: 413).")
@click.option("--max-input-chars", type=click.IntRange(min=1), default=200_000, show_default=True,
              help="Most characters in one text (more: 413). The model reads its first max-length "
                   "tokens in any case.")
@click.option("--max-body-bytes", type=click.IntRange(min=1), default=8 << 20, show_default=True,
              help="Most bytes in one request body (more: 413).")
@click.option("--api-key", metavar="KEY", envvar=API_KEY_ENV, show_envvar=True,
              help="Require 'Authorization: Bearer KEY' on every route but /health and the page. "
                   "Prefer the environment variable: a command line is visible to other users.")
@click.option("--provider", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="Execution provider; auto uses CUDA when onnxruntime has it.")
@click.option("--trusted-key", "trusted_keys", metavar="KEYFILE", multiple=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Public key of a publisher you trust; repeatable. The bundle must be signed by one.")
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]),
              default="info", show_default=True, help="uvicorn's log level (info logs each request).")
def serve_command(bundle_path: Path, host: str, port: int, workers: int, threads: int | None,
                  max_batch_tokens: int | None, max_batch_wait_ms: float, max_queue: int,
                  max_inputs: int, max_input_chars: int, max_body_bytes: int, api_key: str | None,
                  provider: str, trusted_keys: tuple[Path, ...], log_level: str) -> None:
    """Serve a bundle over HTTP: the Hugging Face text-classification API, with dynamic batching.

    \b
    POST / or /predict  {"inputs": "text" | ["text", ...],
                         "parameters": {"top_k": K, "function_to_apply": "softmax"}}
    GET /health, /info, /metrics (Prometheus), / (a page to try the model)

    Stops on SIGTERM or Ctrl-C after answering every request it has accepted. Needs
    textclf[serve].
    """
    try:
        from textclf import serve
    except ImportError as exc:
        raise TextclfError(f"textclf serve needs the serve extra ({exc.name} is not installed); "
                           f"pip install 'textclf[serve]'") from None
    from textclf import runtime

    if api_key is None:  # click takes a blank variable for an unset one: refuse it instead
        api_key = os.environ.get(API_KEY_ENV)
    if api_key is not None and not api_key.strip():
        raise UsageError(f"--api-key (or {API_KEY_ENV}) is empty; give a key, or leave it out")
    settings = serve.ServeSettings(
        bundle=str(bundle_path), host=host, port=port, workers=workers,
        threads=threads or serve.default_threads(workers), max_batch_tokens=max_batch_tokens,
        max_batch_wait_ms=max_batch_wait_ms, max_queue=max_queue, max_inputs=max_inputs,
        max_input_chars=max_input_chars, max_body_bytes=max_body_bytes, api_key=api_key,
        provider=provider, trusted_keys=tuple(str(k) for k in trusted_keys))
    _check_port(host, port)
    # Loaded and verified here, once: a bad bundle is one line before any port is bound.
    bundle = runtime.load(bundle_path, threads=settings.threads, provider=provider,
                          max_batch_tokens=max_batch_tokens, trusted_keys=list(trusted_keys) or None)
    where = f"http://{host}:{port}" if ":" not in host else f"http://[{host}]:{port}"
    info(f"serving {bundle_path} ({', '.join(bundle.labels)}) at {where} with {workers} worker(s); "
         f"auth {'on' if api_key else 'off'}; pid {os.getpid()}")
    serve.serve(settings, bundle if workers == 1 else None, log_level=log_level)


def _check_port(host: str, port: int) -> None:
    """A usage error now, rather than after loading the model, when ``host:port`` cannot be bound."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageError(f"--host {host}: not an address of this machine ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise UsageError(f"--host {host} --port {port}: cannot listen there ({exc.strerror}); "
                             f"choose another port, or stop what uses it") from None
