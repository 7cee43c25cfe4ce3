# Two commands do everything on a fresh Debian/Ubuntu machine:
#   make demo   install; build the Bible corpus and the espeak-ng speech corpus; train and
#               evaluate the small translation and speech models; write a comparison report
#   make test   install and run the test suite
# QUICK=1 make demo shows the whole flow in a few minutes (tiny models, short budgets).
SHELL := /bin/bash
PY := .venv/bin/python
RUN ?= runs/bible_small
CONFIG ?= configs/translate/bible_small.yaml
QUICK ?=
QUICK_SET := train.epochs=1 train.max_minutes=2 model.units=64 model.embedding_dim=64 \
	data.source_vocab_size=2000 data.target_vocab_size=2000
ASR_RUN ?= runs/asr_small
ASR_CONFIG ?= configs/asr/synth_small.yaml
SPEECH := $(if $(QUICK),data/speech_quick,data/speech)
SPEECH_SIZES := $(if $(QUICK),600 50 60,12000 300 500)
ASR_QUICK_SET := train.epochs=2 train.max_minutes=2 model.units=64 model.num_layers=1 \
	model.conv_filters=64 data.train=$(SPEECH)/train.jsonl data.dev=$(SPEECH)/dev.jsonl \
	data.test=$(SPEECH)/test.jsonl
APT_PACKAGES := sword-text-sparv sword-text-web sword-text-kjv espeak-ng festival festvox-kallpc16k
# The tests render the HTML comparison report in headless Chromium.
TEST_APT_PACKAGES := $(APT_PACKAGES) chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test system-deps test-deps apt install corpus speech-corpus

demo: system-deps install corpus speech-corpus
	$(PY) -m pipelines.translate train --config $(CONFIG) --run-dir $(if $(QUICK),runs/quick,$(RUN)) \
		$(if $(QUICK),--set $(QUICK_SET))
	$(PY) -m pipelines.translate evaluate --run-dir $(if $(QUICK),runs/quick,$(RUN)) --split test \
		$(if $(QUICK),--limit 100 --beam-size 3)
	$(PY) -m pipelines.asr train --config $(ASR_CONFIG) \
		--run-dir $(if $(QUICK),runs/asr_quick,$(ASR_RUN)) $(if $(QUICK),--set $(ASR_QUICK_SET))
	$(PY) -m pipelines.asr evaluate --run-dir $(if $(QUICK),runs/asr_quick,$(ASR_RUN)) \
		--manifest $(SPEECH)/test.jsonl $(if $(QUICK),--beam-size 4)
	$(PY) -m pipelines.report $(if $(QUICK),runs/quick runs/asr_quick,$(RUN) $(ASR_RUN)) \
		--out reports/$(if $(QUICK),quick,demo) --title "make demo"

test: test-deps install
	.venv/bin/ruff format --check . && .venv/bin/ruff check .
	$(PY) -m pytest -q

system-deps:
	@$(MAKE) --no-print-directory apt PACKAGES="$(APT_PACKAGES)"

test-deps:
	@$(MAKE) --no-print-directory apt PACKAGES="$(TEST_APT_PACKAGES)"

apt:
	@if ! dpkg -s $(PACKAGES) >/dev/null 2>&1; then \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q \
			$(PACKAGES); \
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

# English side of the Bible split: training books for train, Amos/Philippians for dev,
# Mark/Ruth/Jonah for test; dev and test voices are held out of training.
# test_festival.jsonl: the test text spoken by festival, a synthesizer unseen in training.
speech-corpus: $(SPEECH)/test_festival.jsonl

$(SPEECH)/test_festival.jsonl: data/bible/train.tsv data_prep/synth_speech.py
	set -- $(SPEECH_SIZES); $(PY) -m data_prep.synth_speech --text data/bible/train.tsv --column 2 \
		--dev-text data/bible/dev.tsv --test-text data/bible/test.tsv --out $(SPEECH) \
		--train-utterances $$1 --dev-utterances $$2 --test-utterances $$3 --festival

