# The two commands of the README:
#   make run    set up (Debian packages, configure, build), then `spanlab run`
#   make test   set up, then the whole test suite: release, sanitizers, fuzzers, lint
.PHONY: run test setup build clean lint fuzz

run: setup
	./build/release/tools/spanlab run

test:
	./scripts/test.sh

setup build:
	./scripts/setup.sh release

lint:
	./scripts/lint.sh

fuzz:
	./scripts/setup.sh fuzz
	./scripts/fuzz.sh

clean:
	rm -rf build
