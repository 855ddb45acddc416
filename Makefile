# `make run` and `make test` each take a fresh machine to a result: they create .venv, install
# tf-parity with TensorFlow (CPU) and, where apt-get can, Debian's Fashion-MNIST.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# `make test EXTRAS=cpu,test,jax,torch` adds Keras' torch backend (PyTorch's CPU build, about 1 GB);
# without it the torch tests skip, saying why.
EXTRAS ?= cpu,test,jax
comma := ,
STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))

.PHONY: install data run test bench clean

$(STAMP): setup.cfg pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[$(EXTRAS)]'
	touch $(STAMP)

install: $(STAMP)

data:
	@scripts/install_data.sh

run: install data
	$(BIN)/tf-parity data
	$(BIN)/tf-parity parity --model mnist_cnn --json results/parity_mnist_cnn.json

test: install data
	$(BIN)/python -m pytest -n 2 parity_tests

bench: install data
	$(BIN)/tf-parity bench --model all --json results/bench.json

clean:
	rm -rf $(VENV) results .pytest_cache
