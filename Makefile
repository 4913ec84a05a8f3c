# Set-up and everyday jobs. `make demo` and `make test` work on a fresh machine: they build
# .venv (torch 2.13.0 CPU first, torch-scatter compiled without build isolation, then the
# project, then compiles the numba kernels into their cache); a second run finds
# .venv/.installed up to date and does nothing slow.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
comma := ,

.PHONY: setup demo test bench bench-pipeline bench-lhc bench-batch train-baikal-gvd train-ta-sd train-lhc-pf \
	conditions-baikal-gvd conditions-ta-sd conditions-lhc-pf story-baikal-gvd story-ta-sd clean

setup: $(STAMP)

$(STAMP): pyproject.toml setup.py Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q --no-build-isolation torch-scatter
	$(BIN)/python -m pip install -q -e ".[test,plots,lhc,export,root,distributed,posterior]"
	$(BIN)/python -m graphreco.warm_up
	touch $(STAMP)

# $(call demo-detector,NAME,TITLE,SIMULATE OPTIONS): simulate, build graphs, reconstruct and evaluate
# one detector. Each step prints a short summary; its full record (every figure) goes to
# data/demo-NAME-STEP.json, and the evaluation writes a report folder (report.html, report.md, PNGs).
define demo-detector
	@echo "== $(2) =="
	@$(BIN)/graphreco simulate $(1) $(3) -o data/demo-$(1).parquet --json data/demo-$(1)-simulate.json
	@$(BIN)/graphreco graphs data/demo-$(1).parquet --json data/demo-$(1)-graphs.json
	@$(BIN)/graphreco reconstruct --detector $(1) data/demo-$(1).parquet -o data/demo-$(1)-reco.parquet \
		--json data/demo-$(1)-reconstruct.json
	@$(BIN)/graphreco evaluate data/demo-$(1).parquet data/demo-$(1)-reco.parquet --report data/demo-report-$(1) \
		--json data/demo-$(1)-evaluate.json
	@echo
endef

demo: setup
	@mkdir -p data
	$(call demo-detector,baikal-gvd,Baikal-GVD: 6000 triggered events,\
		--events 6000 --seed 1 --mix numu_cc=3$(comma)nue_cc=1$(comma)nc=1$(comma)eas=8)
	$(call demo-detector,lhc-pf,LHC particle flow: 100 crossings at 140 pile-up,\
		--events 100 --pileup 140 --pool-size 3000 --seed 7)
	$(call demo-detector,ta-sd,Telescope Array SD: 3000 showers,--events 3000 --seed 5)

test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python scripts/bench_kernels.py

bench-pipeline: setup
	mkdir -p data
	test -f data/bench-baikal-gvd.parquet || $(BIN)/graphreco simulate baikal-gvd --events 20000 --seed 303 \
		--mix numu_cc=3,nue_cc=1,nc=1,eas=8 -o data/bench-baikal-gvd.parquet
	$(BIN)/python scripts/bench_pipeline.py data/bench-baikal-gvd.parquet

bench-lhc: setup
	mkdir -p data
	test -f data/bench-lhc-pf.parquet || $(BIN)/graphreco simulate lhc-pf --events 51 --pileup 140 --seed 21 \
		-o data/bench-lhc-pf.parquet
	$(BIN)/python scripts/bench_lhc_pf.py data/bench-lhc-pf.parquet

bench-batch: setup
	mkdir -p data
	test -f data/bench-baikal-gvd.parquet || $(BIN)/graphreco simulate baikal-gvd --events 20000 --seed 303 \
		--mix numu_cc=3,nue_cc=1,nc=1,eas=8 -o data/bench-baikal-gvd.parquet
	$(BIN)/python scripts/bench_batch.py data/bench-baikal-gvd.parquet --workers 2 --ray --copies 5

# Retrain a shipped pipeline from its recipe (detectors/<name>/artifacts/recipe.json) on samples
# simulated on first use, and score it; ARGS go to the script, e.g. ARGS="--quick --out /tmp/pipe".
train-baikal-gvd: setup
	$(BIN)/python scripts/train_baikal.py $(ARGS)

train-ta-sd: setup
	$(BIN)/python scripts/train_ta_sd.py $(ARGS)

train-lhc-pf: setup
	$(BIN)/python scripts/train_lhc_pf.py $(ARGS)

# The conditions matrix (docs/conditions-matrix.md): the shipped pipeline beside the classical
# method on each shifted condition; ARGS go to the script, e.g. ARGS="--events 1000".
conditions-baikal-gvd conditions-ta-sd conditions-lhc-pf: conditions-%: setup
	$(BIN)/python scripts/conditions_matrix.py $* --json data/conditions/$*.json $(ARGS)

# An experiment adopting a pipeline (docs/your-experiment.md): its own simulation setting,
# calibrate, fine-tune, from scratch and adapt, each scored on disjoint samples; ARGS go to
# the script, e.g. ARGS="--minutes 10 --steps calibrated finetuned".
story-baikal-gvd story-ta-sd: story-%: setup
	$(BIN)/python scripts/experiment_story.py $* --json data/story/$*.json $(ARGS)

clean:
	rm -rf $(VENV) data .pytest_cache .hypothesis
