# Setup and everyday commands. `make run` and `make test` work on a fresh machine: they make
# .venv, install torch (a CPU build unless an NVIDIA GPU is present) and the project into it.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch for machines without an NVIDIA GPU; set TORCH_INDEX to PyTorch's CPU wheel index where
# the default index would hand you a CUDA build you cannot use.
TORCH_CPU ?= torch==2.13.0
TORCH_INDEX ?=

.PHONY: run test bench lint clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	if command -v nvidia-smi >/dev/null 2>&1; then \
		$(BIN)/pip install -q torch; \
	else \
		$(BIN)/pip install -q $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH_CPU)"; \
	fi
	$(BIN)/pip install -q -e ".[test]"
	touch $@

run: $(BIN)/.installed
	$(BIN)/minigpt-tui

test: $(BIN)/.installed
	$(BIN)/python -m pytest

bench: $(BIN)/.installed
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build *.egg-info
