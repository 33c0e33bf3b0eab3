# The two README commands: `make demo` and `make test`. Each creates .venv on first use
# and installs the package (editable) with its test extras.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The main demo: fit harmonic + noise + reverb to a bundled violin recording (about a minute).
demo: $(STAMP)
	$(VENV)/bin/ddsp resynth demos/data/violin.flac -o out/resynth --seconds 60

test: $(STAMP)
	$(PY) -m pytest
	$(VENV)/bin/ruff check .
	$(PY) demos/filter_demo.py --seconds 0.5
	$(VENV)/bin/ddsp resynth demos/data/violin.flac -o out/smoke --steps 10 > /dev/null

# Peers (torchlpc builds its C++ op against the installed torch; --no-deps keeps pip from
# replacing torch), then the benchmark.
bench: $(STAMP)
	$(PY) -m pip install --quiet --no-deps torchlpc philtorch torchcomp flamo
	$(PY) -m pip install --quiet pedalboard nnaudio pyfar pydantic pyyaml matplotlib tqdm
	$(VENV)/bin/ddsp bench filters --memory
	$(VENV)/bin/ddsp bench synth --memory
	$(VENV)/bin/ddsp bench effects --memory

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) out build *.egg-info
