# surge: `make help` lists the targets. CI runs `make ci`.
SHELL := /bin/bash
GO    ?= go
STACK ?= dev
# Packages tested with the race detector: the app and what it runs on.
APP_PKGS  = ./app/... ./internal/localenv/...
# Everything else: the Pulumi program and its components (mocked providers).
INFRA_PKGS = $$($(GO) list ./... | grep -v -e /app/ -e /internal/localenv)

# Pinned linters, built from their Go modules once per version into a cache
# outside the checkout (a fresh clone reuses them).
ACTIONLINT_VERSION = v1.7.12
GOLANGCI_VERSION   = v2.15.0
TOOLS_DIR  ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/surge-tools
ACTIONLINT  = $(TOOLS_DIR)/actionlint-$(ACTIONLINT_VERSION)
GOLANGCI    = $(TOOLS_DIR)/golangci-lint-$(GOLANGCI_VERSION)
# make plan writes its report here too when set (CI: the job summary).
PLAN_OUT ?=

.PHONY: help deps test test-infra test-app check fmt vet lint lint-go lint-actions plan plan-update snapshot-update run screenshots bench bench-short preview up release ci clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

deps: ## install PostgreSQL, Redis and Chromium if missing (apt-get)
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

screenshots: deps ## regenerate the students' page screenshots in docs/screenshots (headless Chromium)
	SURGE_UPDATE_SCREENSHOTS=1 $(GO) test -count=1 -run 'TestJoinWatchPositionEnrollAndCancel|TestStaffUploadStudentDownload' ./app/internal/web/browser/

BENCH_ARGS ?= -scenario hot -out docs/bench
bench: deps ## the opening-second rush benchmark (docs/BENCHMARKS.md); BENCH_ARGS='-scenario big'
	$(GO) run ./bench/cmd/rush $(BENCH_ARGS)

lint: lint-go lint-actions ## golangci-lint (.golangci.yml) and actionlint on the workflows

lint-go: $(GOLANGCI)
	$(GOLANGCI) run ./...

lint-actions: $(ACTIONLINT)
	$(ACTIONLINT) -no-color
	@if command -v shellcheck >/dev/null 2>&1; then shellcheck .ci/run scripts/*.sh; \
	else echo "lint-actions: shellcheck not installed: run: blocks and scripts/ not checked (apt-get install shellcheck)"; fi

$(ACTIONLINT):
	@mkdir -p $(TOOLS_DIR)/.build-actionlint
	GOBIN=$(TOOLS_DIR)/.build-actionlint $(GO) install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)
	mv $(TOOLS_DIR)/.build-actionlint/actionlint $@

$(GOLANGCI):
	@mkdir -p $(TOOLS_DIR)/.build-golangci
	GOBIN=$(TOOLS_DIR)/.build-golangci $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)
	mv $(TOOLS_DIR)/.build-golangci/golangci-lint $@

plan: ## offline plan of STACK: resource tree, counts, dev/prod diff, cost estimate (no AWS, no CLI)
	$(GO) run ./internal/plan/cmd/surge-plan -stack $(STACK) $(if $(PLAN_OUT),-out $(PLAN_OUT))

plan-update: ## regenerate the committed diagram and estimates (docs/) from the program
	$(GO) run ./internal/plan/cmd/surge-plan -update

snapshot-update: ## rewrite stacks/testdata/snapshot (every resource dev, prod and dev-on-a-domain declare) after a deliberate change
	SURGE_UPDATE_SNAPSHOT=1 $(GO) test -count=1 -run TestProgramMatchesSnapshot ./stacks/

preview: ## pulumi preview of STACK (default dev)
	pulumi preview --stack $(STACK)

up: ## pulumi up of STACK (default dev)
	pulumi up --stack $(STACK)

release: ## tag VERSION (vX.Y.Z) with the app digest; see CONTRIBUTING.md
	@scripts/release.sh $(VERSION)

ci: export SURGE_REQUIRE_DEPS = 1
ci: deps check lint test ## what CI runs (missing PostgreSQL/Redis fail, never skip)

clean: ## remove build output
	rm -rf .surge-build
