# Two commands do everything on a fresh Debian/Ubuntu machine:
#   make demo   install; build the Bible corpus, the multi-engine speech corpus and the
#               real-voice test set; train and evaluate the small translation model and the
#               speech model over the pretrained Whisper encoder (with a word LM too); write a
#               comparison report
#   make test   install and run the test suite
# QUICK=1 make demo shows the whole flow in a few minutes (tiny models, short budgets).
#   make voices the README's speech results: configs/asr/voices.yaml (about 2 hours on 2 cores),
#               its word LM and tuning, and the four speech test sets, into runs/asr_voices
#               (QUICK=1 make voices: the same chain with a tiny model, in minutes)
#   make whisper the same chain over the pretrained Whisper tiny.en encoder
#               (configs/asr/whisper_tiny.yaml) into runs/asr_whisper
#   make speech-translate  Spanish speech -> English: the Spanish corpus and recognizer, its
#               LM, a recognizer-style translator and the chain evaluated (QUICK=1: in minutes)
SHELL := /bin/bash
PY := .venv/bin/python
RUN ?= runs/bible_small
CONFIG ?= configs/translate/bible_small.yaml
QUICK ?=
QUICK_SET := train.epochs=1 train.max_minutes=2 model.units=64 model.embedding_dim=64 \
	data.source_vocab_size=2000 data.target_vocab_size=2000
# The demo's speech model: the configuration that reads the real recordings best within the
# demo's time (docs/speech.md): the Whisper tiny.en encoder, pretrained by others on real speech,
# frozen under our BiLSTM + CTC head.
ASR_RUN ?= runs/asr_demo
ASR_CONFIG ?= configs/asr/whisper_tiny.yaml
SPEECH ?= $(if $(QUICK),data/speech_quick,data/speech)
# train, dev, test utterances, the held-out voices' (Kokoro, ~4 CPU s each: a few in QUICK),
# and dev_words' (general words never trained on, spoken by the dev speakers)
SPEECH_SIZES := $(if $(QUICK),600 50 60 20 30,12000 300 500 500 300)
# Share of training utterances that are phrases of 1-3 general English words (wordfreq's most
# frequent words, data_prep/speech/word_list.py): the Bible lacks most everyday words.
WORD_SHARE ?= 0.15
# Weight of the general words' unigram frequencies interpolated into the Bible word LM
# (seq2seq/speech/lm_mixing.py), chosen on dev + dev_words (docs/language_model.md).
GENERAL_WORDS ?= 0.3
SPEECH_DEV := $(SPEECH)/dev.jsonl $(SPEECH)/dev_words.jsonl
# Share of training utterances cut to 1-3 of their own words (data_prep.text.normalize.short_pieces);
# a corpus with another share needs its own folder: make voices SPEECH=data/speech_short
# SHORT_SHARE=0.1 VOICES_RUN=runs/asr_voices_short
SHORT_SHARE ?= 0
SPANISH_SPEECH ?= $(if $(QUICK),data/speech_es_quick,data/speech_es)
# train, dev, test, test verses, held-out voices' utterances (Kokoro: ~4 CPU s each), dev verses
SPANISH_SIZES := $(if $(QUICK),400 40 40 20 10 10,6000 300 500 200 100 100)
VOICES_RUN ?= $(if $(QUICK),runs/asr_voices_quick,runs/asr_voices)
WHISPER_RUN ?= $(if $(QUICK),runs/asr_whisper_quick,runs/asr_whisper)
SPEECH_DATA := data.train=$(SPEECH)/train.jsonl data.dev=$(SPEECH)/dev.jsonl \
	data.test=$(SPEECH)/test.jsonl
SPEECH_TESTS := $(SPEECH)/test.jsonl $(SPEECH)/test_voices.jsonl $(SPEECH)/test_festival.jsonl \
	data/real/real.jsonl
ASR_QUICK_MODEL := train.epochs=2 train.max_minutes=2 model.units=64 model.num_layers=1 \
	model.conv_filters=64
ASR_QUICK_SET := $(ASR_QUICK_MODEL) $(SPEECH_DATA)
APT_PACKAGES := sword-text-sparv sword-text-web sword-text-kjv espeak-ng festival festvox-kallpc16k \
	flite festvox-kdlpc16k festvox-us-slt-hts sox libsox-fmt-all ffmpeg
# Ambience recordings (CC-BY-SA-3.0) for the noise augmentation of configs/asr/voices.yaml and
# whisper_tiny.yaml; the demo's speech config adds no noise and the tests use generated noise,
# so only `make voices` and `make whisper` install these 240 MB.
NOISE_APT_PACKAGES := megaglest-data
# Human recordings with exact transcripts (data_prep/corpora/real_speech.py): a test set of minutes.
REAL_SPEECH_APT_PACKAGES := klettres-data ktuberling-data tuxpaint-stamps-default alsa-utils
# The tests render the HTML comparison report and drive the server's page in headless Chromium.
# alsa-utils' recordings of a human voice test the converted Whisper encoder.
TEST_APT_PACKAGES := $(APT_PACKAGES) chromium chromium-driver alsa-utils
# The tests run in parallel worker processes (pytest-xdist), one per core up to 4: most of a
# test's time is single-threaded (imports, tracing, tiny models), so two workers keep 2 cores busy.
TEST_WORKERS ?= auto
TRANSLATE_RUN := $(if $(QUICK),runs/quick,$(RUN))
ES_ASR_RUN ?= $(if $(QUICK),runs/asr_es_quick,runs/asr_es_small)
ST_TRANSLATE_RUN ?= $(if $(QUICK),runs/quick_asr_style,runs/bible_small_asr_style)
SPANISH_DATA := data.train=$(SPANISH_SPEECH)/train.jsonl data.dev=$(SPANISH_SPEECH)/dev.jsonl \
	data.test=$(SPANISH_SPEECH)/test.jsonl
SPEECH_RUN := $(if $(QUICK),runs/asr_quick,$(ASR_RUN))
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo voices whisper speech-translate test system-deps noise-deps test-deps apt install corpus speech-corpus real-speech \
	spanish-speech-corpus

demo: system-deps install corpus speech-corpus real-speech
	$(PY) -m pipelines.translate train --config $(CONFIG) --run-dir $(TRANSLATE_RUN) \
		$(if $(QUICK),--set $(QUICK_SET))
	$(PY) -m pipelines.translate evaluate --run-dir $(TRANSLATE_RUN) --split test \
		$(if $(QUICK),--limit 100 --beam-size 3)
	$(PY) -m pipelines.asr train --config $(ASR_CONFIG) --run-dir $(SPEECH_RUN) \
		$(if $(QUICK),--set $(ASR_QUICK_SET))
	# A word LM from the English side of the Bible's training books (no dev or test book) mixed
	# with general English words; its weights are tuned on dev and dev_words, never on test.
	$(PY) -m pipelines.asr lm --run-dir $(SPEECH_RUN) --text data/bible/train.en.txt \
		--general-words $(GENERAL_WORDS)
	$(PY) -m pipelines.asr tune-lm --run-dir $(SPEECH_RUN) --manifest $(SPEECH_DEV) \
		$(if $(QUICK),--alphas 0.5 1 --betas 1 --beam-size 4)
	for manifest in $(SPEECH_TESTS); do \
		$(PY) -m pipelines.asr evaluate --run-dir $(SPEECH_RUN) --manifest $$manifest \
			$(if $(QUICK),--beam-size 4 --lm-beam-size 4) || exit 1; \
	done
	$(PY) -m pipelines.report $(TRANSLATE_RUN) $(SPEECH_RUN) \
		--out reports/$(if $(QUICK),quick,demo) --title "make demo"

# A speech config's results: training, its LM (weights tuned on dev) and every test set.
# $(1) config, $(2) run directory, $(3) more --set values for training.
define speech_results
	$(PY) -m pipelines.asr train --config $(1) --run-dir $(2) --set $(SPEECH_DATA) $(3)
	$(PY) -m pipelines.asr lm --run-dir $(2) --text data/bible/train.en.txt \
		--general-words $(GENERAL_WORDS)
	$(PY) -m pipelines.asr tune-lm --run-dir $(2) --manifest $(SPEECH_DEV) \
		$(if $(QUICK),--alphas 0.5 1 --betas 1 --beam-size 4,--alphas 0.25 0.5 0.75 1 1.25 --betas 0 1 2 3 4)
	for manifest in $(SPEECH_TESTS); do \
		$(PY) -m pipelines.asr evaluate --run-dir $(2) --manifest $$manifest \
			$(if $(QUICK),--beam-size 4 --lm-beam-size 4) || exit 1; \
	done
endef

# The from-scratch speech model of docs/speech.md (librosa features, voices.yaml).
voices: system-deps noise-deps install corpus speech-corpus real-speech
	$(call speech_results,configs/asr/voices.yaml,$(VOICES_RUN),$(if $(QUICK),$(ASR_QUICK_MODEL) \
		augment.perturbed_copies=1))

# The same chain over the pretrained Whisper tiny.en encoder (configs/asr/whisper_tiny.yaml):
# a few minutes of encoder caching and a 35-minute training budget on 2 CPU cores.
whisper: system-deps noise-deps install corpus speech-corpus real-speech
	$(call speech_results,configs/asr/whisper_tiny.yaml,$(WHISPER_RUN),$(if $(QUICK),\
		train.epochs=1 train.max_minutes=2 model.units=64 model.num_layers=1))

# Speech translation (Spanish speech in, English text out; docs/speech_translation.md): the
# Spanish recognizer (configs/asr/spanish_small.yaml) with a word LM from the Spanish side of
# the training books, tuned on dev; the demo's translator fine-tuned for 2 epochs with a share
# of its sources in recognizer style (data.asr_style); the chain evaluated on the spoken test
# verses (held-out espeak-ng voices, and Kokoro's held-out jf_nezumi).
speech-translate: system-deps install corpus spanish-speech-corpus
	$(PY) -m pipelines.asr train --config configs/asr/spanish_small.yaml --run-dir $(ES_ASR_RUN) \
		--set $(SPANISH_DATA) $(if $(QUICK),$(ASR_QUICK_MODEL))
	$(PY) -m pipelines.asr lm --run-dir $(ES_ASR_RUN) --text data/bible/train.es.txt
	$(PY) -m pipelines.asr tune-lm --run-dir $(ES_ASR_RUN) \
		$(if $(QUICK),--alphas 0.5 1 --betas 1 --beam-size 4,--alphas 0.5 0.75 1.0 --betas 1 2 3)
	for manifest in test test_voices; do \
		$(PY) -m pipelines.asr evaluate --run-dir $(ES_ASR_RUN) \
			--manifest $(SPANISH_SPEECH)/$$manifest.jsonl $(if $(QUICK),--beam-size 4 --lm-beam-size 4) \
			|| exit 1; \
	done
	$(PY) -m pipelines.translate train --config $(CONFIG) --run-dir $(TRANSLATE_RUN) \
		$(if $(QUICK),--set $(QUICK_SET))
	$(PY) -m pipelines.translate train --config $(CONFIG) --run-dir $(ST_TRANSLATE_RUN) \
		--init-from $(TRANSLATE_RUN) --set data.asr_style=0.3 train.epochs=2 train.max_minutes=20 \
		$(if $(QUICK),$(QUICK_SET))
	for manifest in test_verses test_verses_voices; do \
		for translator in $(TRANSLATE_RUN) $(ST_TRANSLATE_RUN); do \
			$(PY) -m pipelines.speech_translate --asr $(ES_ASR_RUN) --translate $$translator \
				--evaluate $(SPANISH_SPEECH)/$$manifest.jsonl \
				--out reports/speech_translate/$$(basename $$translator)/$$manifest \
				$(if $(QUICK),--beam-size 4 --translate-beam-size 2) || exit 1; \
		done; \
	done

test: test-deps install
	.venv/bin/ruff format --check . && .venv/bin/ruff check .
	$(PY) -m pytest -q -n $(TEST_WORKERS) --maxprocesses 4 --dist worksteal --durations 15

system-deps:
	@$(MAKE) --no-print-directory apt PACKAGES="$(APT_PACKAGES)"

noise-deps:
	@$(MAKE) --no-print-directory apt PACKAGES="$(NOISE_APT_PACKAGES)"

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

corpus: data/bible/train.tsv data/bible/train.en.txt

data/bible/train.tsv: data_prep/corpora/bible.py
	$(PY) -m data_prep.corpora.bible --out data/bible

data/bible/train.en.txt: data/bible/train.tsv
	cut -f2 $< > $@

# English side of the Bible split: training books for train, Amos/Philippians for dev,
# Mark/Ruth/Jonah for test. Speakers are held out whole (data_prep/corpora/voices.py): train mixes
# espeak-ng, flite awb/slt, festival slt, piper joe, hibari's derived voices of af_heart (one
# person) and Kokoro style blends; dev adds flite rms; test is espeak-ng held-out variants;
# test_voices.jsonl is the test text spoken by festival ked and Kokoro jf_nezumi (and MBROLA /
# Pico / RHVoice voices where installed); test_festival.jsonl by festival kal (written last).
speech-corpus: $(SPEECH)/test_festival.jsonl

$(SPEECH)/test_festival.jsonl: data/bible/train.tsv data_prep/corpora/synth_speech.py data_prep/corpora/engines.py data_prep/corpora/plans.py \
		data_prep/corpora/neural_voices.py data_prep/corpora/speech_options.py \
		data_prep/corpora/voices.py data_prep/speech/word_list.py
	set -- $(SPEECH_SIZES); $(PY) -m data_prep.corpora.synth_speech --text data/bible/train.tsv --column 2 \
		--dev-text data/bible/dev.tsv --test-text data/bible/test.tsv --out $(SPEECH) \
		--train-utterances $$1 --dev-utterances $$2 --test-utterances $$3 --festival \
		--voices-utterances $$4 --short-share $(SHORT_SHARE) --word-share $(WORD_SHARE) \
		--dev-word-utterances $$5

data/bible/train.es.txt: data/bible/train.tsv
	cut -f1 $< > $@

# The Spanish side of the same split, spoken (data_prep/corpora/voices.py SPANISH_SPEAKERS):
# espeak-ng es and es-419 with the English variant sets (train, dev and test variants
# disjoint) and a small share of Kokoro style blends reading Spanish IPA; test_voices.jsonl is
# Kokoro jf_nezumi (never trained on); test_verses.jsonl whole test verses with their English
# reference (for speech translation), test_verses_voices.jsonl the same verses by jf_nezumi.
spanish-speech-corpus: $(SPANISH_SPEECH)/test_verses.jsonl data/bible/train.es.txt

$(SPANISH_SPEECH)/test_verses.jsonl: data/bible/train.tsv data_prep/corpora/synth_speech.py \
		data_prep/corpora/engines.py data_prep/corpora/neural_voices.py data_prep/corpora/voices.py \
		data_prep/corpora/plans.py data_prep/corpora/speech_options.py
	set -- $(SPANISH_SIZES); $(PY) -m data_prep.corpora.synth_speech --language es \
		--text data/bible/train.tsv --column 1 --dev-text data/bible/dev.tsv \
		--test-text data/bible/test.tsv --translation-column 2 --out $(SPANISH_SPEECH) \
		--train-utterances $$1 --dev-utterances $$2 --test-utterances $$3 --verses $$4 \
		--voices-utterances $$5 --dev-verses $$6

# Human English speech from packages (pocketsphinx sdist via pip, KDE/Tux Paint/ALSA data via
# apt): 16 kHz WAVs and data/real/real.jsonl with speaker, source and licence; never for training.
real-speech: install data/real/real.jsonl

data/real/real.jsonl: data_prep/corpora/real_speech.py
	@$(MAKE) --no-print-directory apt PACKAGES="$(REAL_SPEECH_APT_PACKAGES)"
	$(PY) -m data_prep.corpora.real_speech --out data/real
