# ecx — make run: the hub on the embedded store; make test: the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PKI := certs/dev

.PHONY: run test bench eval lint proto pki clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

pki: $(STAMP)
	$(PY) -m certs.devpki --out $(PKI)

run: pki
	$(VENV)/bin/ecx-server run --config $(PKI)/hub.toml --print-quickstart

test: $(STAMP)
	$(PY) -m pytest -q tests

bench: $(STAMP)
	ECX_BENCH_FULL=1 $(PY) -m pytest -q -p no:cacheprovider tests/bench -s --timeout 3600

eval: $(STAMP)
	$(PY) -m tests.eval.run_eval

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy server client

proto: $(STAMP)
	$(PY) -m grpc_tools.protoc -I proto --python_out=proto --pyi_out=proto --grpc_python_out=proto proto/ecx/v1/*.proto

clean:
	rm -rf $(VENV) var
