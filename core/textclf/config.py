"""Run config files: YAML (or JSON) with one section per component plus ``trainer``.

::

    data: {name: imdb, batch_size: 32}
    model: distilbert            # a bare name is short for {name: distilbert}
    lit_model: {lr: 2.0e-5}
    trainer: {max_epochs: 2}

Keys may be written with ``-`` or ``_``; options given on the command line win. A run's own
``config.yaml`` is a valid config file: the ``textclf`` and ``plugins`` versions it records are
ignored on input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textclf.errors import UsageError, did_you_mean
from textclf.kinds import SECTIONS, TRAINER
from textclf.options import NAME_KEY
#: Keys a run's config.yaml records for reference; accepted and ignored on input.
RECORDED = ("textclf", "plugins")


def load_config(path: Path) -> dict[str, dict[str, Any]]:
    """Read a config file into ``{section: {key: value}}``; every problem is one clear error."""
    import yaml

    where = f"--config {path}"
    try:
        data = path.read_bytes()
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise UsageError(f"{where}: no such file; check the path") from None
    except IsADirectoryError:
        raise UsageError(f"{where}: is a directory, expected a YAML file") from None
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UsageError(f"{where}: line {line} is not UTF-8 text; save the file as UTF-8") from None
    except OSError as exc:
        raise UsageError(f"{where}: cannot read it: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UsageError(f"{where}: invalid YAML{at}: {problem}") from None
    return normalize_config(raw, where)


def normalize_config(raw: Any, where: str) -> dict[str, dict[str, Any]]:
    """Check a parsed config's shape; ``where`` names its origin in errors."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise UsageError(f"{where}: expected a mapping with the sections {', '.join(SECTIONS)}")
    config: dict[str, dict[str, Any]] = {}
    for key, value in raw.items():
        section = str(key).replace("-", "_")
        if section in RECORDED:
            continue
        if section not in SECTIONS:
            raise UsageError(f"{where}: unknown section '{key}'{did_you_mean(section, SECTIONS)} "
                             f"(sections: {', '.join(SECTIONS)})")
        if isinstance(value, str) and section != TRAINER:
            value = {NAME_KEY: value}
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise UsageError(f"{where}: section '{key}' must be a mapping of option: value")
        config[section] = {str(k).replace("-", "_"): v for k, v in value.items()}
    return config
