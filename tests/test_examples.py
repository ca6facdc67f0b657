"""The example configs resolve against the installed plugins, exactly as written."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

CONFIGS = Path(__file__).parents[1] / "examples" / "configs"


@pytest.mark.parametrize("name", ["imdb-distilbert.yaml", "imdb-fasttext.yaml"])
def test_example_config_resolves(cli, name):
    result = cli("train", "--config", str(CONFIGS / name), "--print-config")
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    written = yaml.safe_load((CONFIGS / name).read_text())
    for section, values in written.items():
        for key, value in values.items():
            if key == "name":
                assert resolved[section]["name"].endswith(f":{value}")
            else:
                assert resolved[section][key] == value, (section, key)
