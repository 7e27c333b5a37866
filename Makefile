# The two commands: `make run` and `make test`. Everything else is a helper.
.PHONY: run test setup setup-test lint train clean

run: setup
	.venv/bin/rapport run

test: setup-test
	.venv/bin/python -m pytest -q

setup:
	@scripts/setup.sh

setup-test:
	@scripts/setup.sh --test

lint: setup-test
	.venv/bin/ruff check bot actions channels tests benchmarks

train: setup
	.venv/bin/rapport train

clean:
	rm -rf var/models var/spacy .pytest_cache
