# The two entry points of README: `make run` (the app on a shipped sample) and `make test` (everything).
VENV ?= .venv
PY := $(VENV)/bin/python
STREAMLIT_FLAGS ?=

.PHONY: run test lint bench browser

$(VENV)/.installed: requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed
	$(PY) -m streamlit run app.py $(STREAMLIT_FLAGS)

# Debian's chromium drives the browser tests (playwright cannot download its own browser here).
browser:
	@command -v chromium >/dev/null 2>&1 || \
	  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium) || \
	  echo "chromium could not be installed: browser tests skip locally and fail under CI=true"

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: $(VENV)/.installed browser lint
	$(PY) -m pytest

bench: $(VENV)/.installed
	$(PY) bench/bench_layer.py
	$(PY) bench/bench_video.py
	$(PY) bench/bench_app.py
	$(PY) bench/bench_app.py --sessions 8 --uploads 4
	$(PY) bench/bench_report.py
	$(PY) bench/bench_maps.py
