# Two commands do everything on a fresh Debian/Ubuntu machine:
#   make demo   install, build the Bible corpus, train, evaluate, print the report path
#   make test   install and run the test suite
# QUICK=1 make demo shows the whole flow in a few minutes (tiny model, short budget).
SHELL := /bin/bash
PY := .venv/bin/python
RUN ?= runs/bible_small
CONFIG ?= configs/translate/bible_small.yaml
QUICK ?=
QUICK_SET := train.epochs=1 train.max_minutes=2 model.units=64 model.embedding_dim=64 \
	data.source_vocab_size=2000 data.target_vocab_size=2000
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test system-deps install corpus

demo: system-deps install corpus
	$(PY) -m pipelines.translate train --config $(CONFIG) --run-dir $(if $(QUICK),runs/quick,$(RUN)) \
		$(if $(QUICK),--set $(QUICK_SET))
	$(PY) -m pipelines.translate evaluate --run-dir $(if $(QUICK),runs/quick,$(RUN)) --split test \
		$(if $(QUICK),--limit 100 --beam-size 3)

test: system-deps install
	.venv/bin/ruff format --check . && .venv/bin/ruff check .
	$(PY) -m pytest -q

system-deps:
	@if ! dpkg -s sword-text-sparv sword-text-web sword-text-kjv espeak-ng >/dev/null 2>&1; then \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q \
			sword-text-sparv sword-text-web sword-text-kjv espeak-ng; \
	fi

install: .venv/installed

.venv/installed: pyproject.toml
	@python3 -c "import ensurepip, venv" 2>/dev/null || { $(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q python3-venv; }
	python3 -m venv .venv
	.venv/bin/pip install -q --upgrade pip
	.venv/bin/pip install -q -e ".[dev]"
	touch $@

corpus: data/bible/train.tsv

data/bible/train.tsv: data_prep/bible.py
	$(PY) -m data_prep.bible --out data/bible

