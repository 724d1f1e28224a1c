# The commands a newcomer needs:
#   make run    set up .venv when missing, then run the embedded default end to end
#   make test   set up .venv when missing, then run the test suite
#   make check-data CONFIG=config/paper.yaml   check every input a config reads, before a long run
#   make slurm-demo   the embedded default through a real SLURM cluster on localhost (as root,
#                     with slurm-wlm and munge installed; see tests/cluster/local_slurm.sh)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= 2
TARGETS ?=  # empty: the workflow's default target, every table
# slurm-demo's cluster: its config, state and logs (a short path: munge's socket is in it)
SLURM_DIR ?= /tmp/brainalign-slurm

.PHONY: setup run report test benchmark clean slurm-demo check-data pereira-passages

# The stamp is refreshed whenever the pinned requirements change.
$(VENV)/.installed: pyproject.toml requirements/constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==26.3
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

run: setup
	$(BIN)/snakemake --cores $(CORES) $(TARGETS)

# Starts munged, slurmctld and slurmd in $(SLURM_DIR), runs the workflow with
# --profile profiles/slurm (every job an sbatch job; no GPU requests unless
# BRAINALIGN_SLURM_GPUS is set), and stops the daemons by PID however the run ends.
slurm-demo: setup
	SNAKEMAKE=$(BIN)/snakemake tests/cluster/local_slurm.sh run $(SLURM_DIR) -- $(TARGETS)

# Pre-flight: every input CONFIG reads (data files, task sources, models), in seconds; one table
# with a fix per problem, non-zero exit if any (docs/data.md). Run it before a long run.
CONFIG ?= config/config.yaml
check-data: setup
	$(BIN)/python -m brainalign.check_data $(CONFIG)

# The 627-sentence layout's passages file from the official .mat files (docs/data.md):
#   make pereira-passages MAT="data/pereira/M02/data_384sentences.mat data/pereira/M02/data_243sentences.mat" \
#        STIMULI=data/pereira627/stimuli.txt OUT=data/pereira627/passages.txt
pereira-passages: setup
	$(BIN)/python -m brainalign.brains.passages $(MAT) $(if $(STIMULI),--stimuli $(STIMULI)) --out $(OUT)

# The HTML report of the last run (tables, figures, captions, methods, summary).
report: setup
	$(BIN)/snakemake --cores 1 --report results/report.html

test: setup
	$(BIN)/python -m pytest

# Ratios against baselines timed in the same run (benchmarks/README.md); minutes each.
benchmark: setup
	$(BIN)/python benchmarks/ridge_2v2.py
	$(BIN)/python benchmarks/features.py
	$(BIN)/python benchmarks/plan_time.py --touch
	$(BIN)/python benchmarks/embedded_default.py --cores $(CORES)

clean:
	rm -rf results .snakemake
