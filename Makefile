# surge: `make help` lists the targets. CI runs `make ci`.
SHELL := /bin/bash
GO    ?= go
STACK ?= dev
# Packages tested with the race detector: the app and what it runs on.
APP_PKGS  = ./app/... ./internal/localenv/...
# Everything else: the Pulumi program and its components (mocked providers).
INFRA_PKGS = $$($(GO) list ./... | grep -v -e /app/ -e /internal/localenv)

.PHONY: help deps test test-infra test-app check fmt vet run bench bench-short preview up ci clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

deps: ## install PostgreSQL and Redis if missing (apt-get)
	@scripts/install-deps.sh

test: deps test-infra test-app ## the whole test suite (installs what it needs)

test-infra: ## Pulumi program and components under mocked providers
	$(GO) test -count=1 $(INFRA_PKGS)

test-app: deps ## the app against real PostgreSQL and Redis, with the race detector
	$(GO) test -count=1 -race -timeout 15m $(APP_PKGS)

check: fmt vet ## gofmt and go vet

fmt: ## fail on unformatted Go files
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet: ## go vet ./...
	$(GO) vet ./...

run: deps ## run the whole app locally on throwaway PostgreSQL and Redis with demo data
	$(GO) run ./app/cmd/surge-local

BENCH_ARGS ?= -scenario hot -out docs/bench
bench: deps ## the opening-second rush benchmark (docs/BENCHMARKS.md); BENCH_ARGS='-scenario big'
	$(GO) run ./bench/cmd/rush $(BENCH_ARGS)

preview: ## pulumi preview of STACK (default dev)
	pulumi preview --stack $(STACK)

up: ## pulumi up of STACK (default dev)
	pulumi up --stack $(STACK)

ci: deps check test ## what CI runs

clean: ## remove build output
	rm -rf .surge-build
