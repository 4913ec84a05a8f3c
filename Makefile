# Set-up and everyday jobs. `make demo` and `make test` work on a fresh machine: they build
# .venv (torch 2.13.0 CPU first, torch-scatter compiled without build isolation, then the
# project, then compiles the numba kernels into their cache); a second run finds
# .venv/.installed up to date and does nothing slow.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench bench-pipeline bench-lhc bench-batch train-baikal-gvd train-ta-sd train-lhc-pf \
	conditions-baikal-gvd conditions-ta-sd conditions-lhc-pf clean

setup: $(STAMP)

$(STAMP): pyproject.toml setup.py Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q --no-build-isolation torch-scatter
	$(BIN)/python -m pip install -q -e ".[test,plots,lhc,export,root,distributed]"
	$(BIN)/python -m graphreco.warm_up
	touch $(STAMP)

demo: setup
	mkdir -p data
	$(BIN)/graphreco simulate baikal-gvd --events 6000 --seed 1 --mix numu_cc=3,nue_cc=1,nc=1,eas=8 \
		-o data/demo-baikal-gvd.parquet
	$(BIN)/graphreco graphs data/demo-baikal-gvd.parquet
	$(BIN)/graphreco reconstruct --detector baikal-gvd data/demo-baikal-gvd.parquet -o data/demo-baikal-gvd-reco.parquet
	$(BIN)/graphreco evaluate data/demo-baikal-gvd.parquet data/demo-baikal-gvd-reco.parquet --plots data/demo-plots
	$(BIN)/graphreco simulate lhc-pf --events 100 --pileup 140 --pool-size 3000 --seed 7 -o data/demo-lhc-pf.parquet
	$(BIN)/graphreco reconstruct --detector lhc-pf data/demo-lhc-pf.parquet -o data/demo-lhc-pf-reco.parquet
	$(BIN)/graphreco evaluate data/demo-lhc-pf.parquet data/demo-lhc-pf-reco.parquet --plots data/demo-plots-lhc-pf
	$(BIN)/graphreco simulate ta-sd --events 3000 --seed 5 -o data/demo-ta-sd.parquet
	$(BIN)/graphreco reconstruct --detector ta-sd data/demo-ta-sd.parquet -o data/demo-ta-sd-reco.parquet
	$(BIN)/graphreco evaluate data/demo-ta-sd.parquet data/demo-ta-sd-reco.parquet --plots data/demo-plots-ta-sd

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

clean:
	rm -rf $(VENV) data .pytest_cache .hypothesis
