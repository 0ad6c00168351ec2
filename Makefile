# drx: `make run` serves the app, `make test` runs the test suite.
# Both create .venv and install what is missing on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8501
# The CPU build of PyTorch; install it before the project so that pip does not pull a CUDA build.
TORCH_SPEC ?= torch==2.13.0

.PHONY: run test install model corrections clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# drx serve prints the first admin's one-time password before it starts serving, then runs streamlit.
run: install
	$(BIN)/drx serve --address localhost --port $(PORT)

# pytest exits 5 when it collected no test: that is a failure here.
test: install
	$(BIN)/python -m pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$status

# Rebuild the bundled default model from ../shared/data (IDRiD only; seed 0; resumable: run it again after
# an interruption), store it compact (int8 deltas from ImageNet, 3.3 MiB instead of 14), then choose its
# heatmap post-processing on the DiaretDB1 train split (logit_map at 10 px for the non-lesion outputs, as
# chosen for v2; per lesion type a method and the map it reads: the type's own, any_lesion's or
# referable_dr's), report the test split once and write both into the card. About 2 hours on 2 CPU cores
# (the per-type choice runs the gradient methods on three maps at 1280 px); a GPU is used when present.
MODEL_STEM ?= drcore/models/weights/drx-idrid-v3
STUDY ?= runs/default-model-study
model: install
	$(BIN)/drx train --preset default --out $(STUDY)/drx-idrid-v3-float32 --name drx-idrid-v3 --resume
	$(BIN)/drx compact $(STUDY)/drx-idrid-v3-float32 $(MODEL_STEM)
	$(BIN)/python benchmarks/default_model_study.py --model $(MODEL_STEM) --out $(STUDY) --smoothing 10 \
		--single-method logit_map choose test disc card

# Fine-tune a model on the graders' corrections in a drx database (README, "Correcting the model"): the adjudicated
# grades, confirmed and rejected candidates and drawn lesions, photographs by content hash. Resumable.
#   make corrections CORRECTIONS_DB=postgresql+psycopg://drx@host/drx [INITIAL_MODEL=...] [CORRECTIONS_OUT=...]
CORRECTIONS_DB ?= $(DRX_DATABASE_URL)
INITIAL_MODEL ?= drx-idrid-v3
CORRECTIONS_OUT ?= runs/corrections-model
corrections: install
	@test -n "$(CORRECTIONS_DB)" || { echo "make corrections: set CORRECTIONS_DB=DATABASE_URL (or DRX_DATABASE_URL)" >&2; exit 2; }
	$(BIN)/drx train --corrections "$(CORRECTIONS_DB)" --initial-model $(INITIAL_MODEL) --out $(CORRECTIONS_OUT) --resume

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
