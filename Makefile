# make test   create .venv, install the project into it, run the tests (all but the longest, `full`)
# make demo   create .venv, install, run synthetic data -> pipeline -> train -> evaluate -> predict
# make bench  create .venv, install, run the benchmarks (writes benchmarks/results.json)
PYTHON_BOOTSTRAP ?= python3
VENV := .venv
PYTHON := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
DEMO_DIR ?= demo_output
DEMO_SEED ?= $(shell date +%s)
# Byte code goes to one tree inside .venv, not to __pycache__ folders in the checkout, and pip does
# not compile the 3 GB it installs: each module is compiled once, the first time it is imported
# (installing took 2 min 15 s with pip's compile step, 1 min 17 s without it, on 2 cores). So byte
# code must be written: a PYTHONDONTWRITEBYTECODE from the caller's shell would make every process
# compile TensorFlow again.
export PYTHONPYCACHEPREFIX = $(CURDIR)/$(VENV)/pycache
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install test test-all test-fast demo demo-answers demo-choice demo-choice-answers bench bench-quick ablation clean

install: $(INSTALLED)

$(INSTALLED): setup.py
	$(PYTHON_BOOTSTRAP) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip setuptools wheel
	$(PYTHON) -m pip install --quiet --no-compile -e '.[test]'
	touch $(INSTALLED)

# Two test processes (pytest-xdist), each test file in one of them, the longest files first
# (tests/conftest.py, LONGEST_FIRST); expensive runs are shared.
# make test leaves the longest runs (marked `full`) to make test-all; make test-fast skips the `slow` ones too.
PYTEST_WORKERS ?= 2
PYTEST_DIST = --dist loadfile --no-loadscope-reorder
test: $(INSTALLED)
	$(PYTHON) -m pytest tests -m "not full" -n $(PYTEST_WORKERS) $(PYTEST_DIST) --durations=15

test-all: $(INSTALLED)
	$(PYTHON) -m pytest tests -n $(PYTEST_WORKERS) $(PYTEST_DIST) --durations=15

test-fast: $(INSTALLED)
	$(PYTHON) -m pytest tests -m "not slow and not full" -n $(PYTEST_WORKERS) $(PYTEST_DIST)

# The demo: synthetic clips -> feature pipeline -> three trainings (lstm, mean,
# none) -> evaluation -> answers about one test video -> the ablation table.
# Offline: the CNN has seeded RANDOM weights (see README), small frames.
DEMO_VIDEOS ?= 400
DEMO_EPOCHS ?= 30
DEMO_PIPELINE_FLAGS ?= --cnn_weights random --image_size 96 --frames_per_video 16 --feature_dtype float16
DEMO_TRAIN_FLAGS ?= --epochs $(DEMO_EPOCHS) --batch_size 32 --progress epoch
# The first test video and its questions (read after the data set is written).
DEMO_TEST_ROWS = [r for r in json.load(open('$(DEMO_DIR)/data/test_qa.json')) if r['video_id'] == json.load(open('$(DEMO_DIR)/data/test_qa.json'))[0]['video_id']]
DEMO_TEST_VIDEO = $(shell $(PYTHON) -c "import json; print($(DEMO_TEST_ROWS)[0]['video_id'])")
DEMO_TEST_QUESTIONS = $(shell $(PYTHON) -c "import json, shlex; print(' '.join('--question ' + shlex.quote(r['question']) for r in $(DEMO_TEST_ROWS)))")

demo: $(INSTALLED)
	rm -rf $(DEMO_DIR)
	$(PYTHON) -m pipeline.synthetic --output_dir $(DEMO_DIR)/data --num_videos $(DEMO_VIDEOS) --seed $(DEMO_SEED)
	$(PYTHON) -m pipeline.run --annotations '$(DEMO_DIR)/data/*_qa.json' --video_dir $(DEMO_DIR)/data/videos \
	    --video_pattern 'video{video_id}.mp4' --output_dir $(DEMO_DIR)/records $(DEMO_PIPELINE_FLAGS)
	for encoder in lstm mean none; do \
	    $(PYTHON) -m model.train --data_dir $(DEMO_DIR)/records --model_dir $(DEMO_DIR)/model_$$encoder \
	        --video_encoder $$encoder $(DEMO_TRAIN_FLAGS) && \
	    $(PYTHON) -m model.evaluate --data_dir $(DEMO_DIR)/records --model_dir $(DEMO_DIR)/model_$$encoder \
	        || exit 1; \
	done
	$(MAKE) --no-print-directory demo-answers DEMO_DIR=$(DEMO_DIR) DEMO_SEED=$(DEMO_SEED)
	$(MAKE) --no-print-directory demo-choice DEMO_DIR=$(DEMO_DIR) DEMO_SEED=$(DEMO_SEED)
	@echo "demo seed $(DEMO_SEED); outputs in $(DEMO_DIR)/ (CNN weights were RANDOM: offline demo)"
	@echo "ask the open-ended model in a browser: $(PYTHON) -m model.serve --model_dir $(DEMO_DIR)/model_lstm  (then open http://127.0.0.1:8080/)"
	@echo "or the multiple-choice one:           $(PYTHON) -m model.serve --model_dir $(DEMO_DIR)/choice_model_lstm"

# Separate target: make expands a whole recipe before running it, and these
# $(shell ...) lines read the test questions, which exist only now.
demo-answers: $(INSTALLED)
	$(PYTHON) -m model.predict --model_dir $(DEMO_DIR)/model_lstm \
	    --video $(DEMO_DIR)/data/videos/video$(DEMO_TEST_VIDEO).mp4 --top_k 3 $(DEMO_TEST_QUESTIONS)
	@echo "expected answers: $$($(PYTHON) -c "import json; print('; '.join(r['answer'] for r in $(DEMO_TEST_ROWS)))")"
	$(PYTHON) -m model.ablation --split test --question_groups $(DEMO_DIR)/data/question_groups.json \
	    --model_dir lstm=$(DEMO_DIR)/model_lstm --model_dir mean=$(DEMO_DIR)/model_mean \
	    --model_dir none=$(DEMO_DIR)/model_none --output $(DEMO_DIR)/ablation.md

# Multiple choice, in the TGIF-QA layout: synthetic GIFs, the Transition task
# ("what happens to the ball?", five candidates), lstm / mean / none.
DEMO_CHOICE_VIDEOS ?= 240
DEMO_CHOICE_ROW = next(r for r in csv.DictReader(open('$(DEMO_DIR)/choice_data/Test_transition_question.csv'), delimiter='\t'))
DEMO_CHOICE_ARGS = $(shell $(PYTHON) -c "import csv, shlex; r = $(DEMO_CHOICE_ROW); print('--video', shlex.quote('$(DEMO_DIR)/choice_data/videos/' + r['gif_name'] + '.gif'), '--question', shlex.quote(r['question']), ' '.join('--candidate ' + shlex.quote(r['a%d' % i]) for i in range(1, 6)))")
DEMO_CHOICE_ANSWER = $(shell $(PYTHON) -c "import csv; r = $(DEMO_CHOICE_ROW); print(r['a%d' % (int(r['answer']) + 1)])")

demo-choice: $(INSTALLED)
	$(PYTHON) -m pipeline.synthetic --layout tgif_qa --output_dir $(DEMO_DIR)/choice_data \
	    --num_videos $(DEMO_CHOICE_VIDEOS) --seed $(DEMO_SEED)
	$(PYTHON) -m pipeline.run --annotations '$(DEMO_DIR)/choice_data/*_transition_question.csv' \
	    --video_dir $(DEMO_DIR)/choice_data/videos --output_dir $(DEMO_DIR)/choice_records $(DEMO_PIPELINE_FLAGS)
	for encoder in lstm mean none; do \
	    $(PYTHON) -m model.train --data_dir $(DEMO_DIR)/choice_records --model_dir $(DEMO_DIR)/choice_model_$$encoder \
	        --video_encoder $$encoder $(DEMO_TRAIN_FLAGS) && \
	    $(PYTHON) -m model.evaluate --data_dir $(DEMO_DIR)/choice_records --model_dir $(DEMO_DIR)/choice_model_$$encoder \
	        || exit 1; \
	done
	$(MAKE) --no-print-directory demo-choice-answers DEMO_DIR=$(DEMO_DIR)

demo-choice-answers: $(INSTALLED)
	$(PYTHON) -m model.predict --model_dir $(DEMO_DIR)/choice_model_lstm $(DEMO_CHOICE_ARGS)
	@echo "expected answer: $(DEMO_CHOICE_ANSWER)"
	$(PYTHON) -m model.ablation --split test --question_groups $(DEMO_DIR)/choice_data/question_groups.json \
	    --model_dir lstm=$(DEMO_DIR)/choice_model_lstm --model_dir mean=$(DEMO_DIR)/choice_model_mean \
	    --model_dir none=$(DEMO_DIR)/choice_model_none --output $(DEMO_DIR)/choice_ablation.md

bench: $(INSTALLED)
	$(PYTHON) -m benchmarks.run

# Every measurement once on tiny data (also run by `make test`, so the benchmarks cannot rot).
bench-quick: $(INSTALLED)
	$(PYTHON) -m benchmarks.run --quick

# The video encoder ablation (README, "Which video encoder"): every encoder on the demo's clips and on
# the harder synthetic kinds; writes $(ABLATION_DIR)/ablation.md and ablation.json. Resumes where it stopped.
ABLATION_DIR ?= ablation_output
ABLATION_SEED ?= 0
ablation: $(INSTALLED)
	$(PYTHON) -m benchmarks.ablation_run --output_dir $(ABLATION_DIR) --seed $(ABLATION_SEED)

clean:
	rm -rf $(DEMO_DIR) $(ABLATION_DIR) .pytest_cache
