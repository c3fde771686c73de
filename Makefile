# The README's two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo report-demo test lint typecheck pytest clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

PLUGIN := examples/driftline-plugin-example

# Reinstall only when the project's dependencies change. The dev install is driftline[all],
# the tools, and the example plug-in (tests use it as a third-party package).
$(STAMP): pyproject.toml $(PLUGIN)/pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]' -e $(PLUGIN)
	@# compile the profile kernels now (numba caches them), not on the first big batch
	$(PY) -c "from driftline.stats.accumulators._kernels import warm_up; warm_up()"
	touch $(STAMP)

# Spark (a JVM-sized runtime, not in driftline[all]): installed for the test run only, so that
# `make lint typecheck` stays light; its tests need a Java runtime (.ci/run installs one).
SPARK_STAMP := $(VENV)/.spark-installed
$(SPARK_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[spark]'
	touch $(SPARK_STAMP)

# The live demo: collector, an instrumented model service and the dashboard (Ctrl-C stops).
demo: $(STAMP)
	$(VENV)/bin/driftline live-demo

# The batch demo: reference vs a drifted batch -> demo-output/report.html and report.json.
report-demo: $(STAMP)
	$(VENV)/bin/driftline demo

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/ruff format --check src tests benchmarks examples

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP) $(SPARK_STAMP)
	$(VENV)/bin/pytest -q

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
