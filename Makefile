# The two set-up commands of the README: `make run` and `make test`.
.PHONY: run test build deps
deps:
	bash scripts/install-deps.sh
build: deps
	bash scripts/build.sh
run: build
	./build/suoke up
test:
	bash scripts/test.sh
