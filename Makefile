# The README's commands. `make train` and `make test` install what they need first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PLUGINS := plugins/textclf-imdb plugins/textclf-distilbert examples/textclf-fasttext
# Extra arguments: make train ARGS="--max-epochs 1", make test ARGS="-k plugins -x".
ARGS ?=

.PHONY: install train test typecheck bench clean

install: $(VENV)/.installed

# One editable environment: the core with its training extra and test tools, the two bundled
# plugins, and the example third-party plugin (installed as its users would install it).
$(VENV)/.installed: pyproject.toml $(addsuffix /pyproject.toml,$(PLUGINS))
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[train,test]' $(addprefix -e ,$(PLUGINS))
	touch $@

train: install
	$(BIN)/textclf train --data imdb --model distilbert $(ARGS)

test: install typecheck
	$(BIN)/python -m pytest $(ARGS)

# The core's annotations hold: mypy over core/textclf (settings in pyproject.toml), no errors.
typecheck: install
	$(BIN)/python -m mypy

# The CPU benchmarks behind BENCHMARKS.md (about 25 minutes on 2 cores). The GPU one runs by hand
# on a GPU machine: see benchmarks/distilbert_gpu.py.
bench: install
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/cli_startup.py
	$(BIN)/python benchmarks/imdb_prepare.py
	$(BIN)/python benchmarks/train_throughput.py
	$(BIN)/python benchmarks/inference.py
	$(BIN)/python benchmarks/fasttext_imdb.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache
