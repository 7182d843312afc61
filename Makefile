# rolloutd — build, test and run. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin
SANDBOX := .sandbox
export PATH := $(CURDIR)/$(SANDBOX)/bin:$(PATH)

# e2e scenarios share one sandbox and run in parallel, each in its own namespace.
E2E_PARALLEL ?= 8
E2E_TIMEOUT ?= 25m

.PHONY: help build test unit fuzz e2e lint vet fmt-check staticcheck no-binaries sandbox sandbox-down demo bench-peers clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

build: ## build rolloutd and rolloutctl into bin/
	$(GO) build -o $(BIN)/ ./cmd/rolloutd ./cmd/rolloutctl
	ln -sf rolloutctl $(BIN)/kubectl-rollouts

test: lint sandbox unit fuzz e2e ## every test: lint, the sandbox (it also provides helm for the chart tests), unit tests with -race, fuzzing, e2e

unit: ## unit tests (no cluster needed)
	$(GO) test -race -count=1 ./...

# Fuzz targets as package:Target; each runs FUZZTIME (corpus in <package>/testdata/fuzz).
# A count of inputs, not a duration: with a duration, Go 1.26's fuzzing coordinator can
# report its own deadline as a failure ("context deadline exceeded", no failing input
# written; golang/go#75804, fixed in Go 1.27). 100000 inputs take 5-20 s a target here.
FUZZ_TARGETS := ./strategy/contract:FuzzParse ./analysis:FuzzParseChecks ./analysis:FuzzParseCustomChecks ./internal/alerts:FuzzWebhookPayload
FUZZTIME ?= 100000x

fuzz: ## run each fuzz target for FUZZTIME inputs or a duration (default 100000x)
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz $${t##*:} ($${t%%:*}) for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t##*:}\$$" -fuzztime $(FUZZTIME) "$${t%%:*}"; \
	done

e2e: sandbox ## end-to-end scenarios on the sandbox (starts it if needed)
	$(GO) test -tags e2e -count=1 -timeout $(E2E_TIMEOUT) -parallel $(E2E_PARALLEL) ./e2e/... ./charts/...

lint: vet fmt-check staticcheck no-binaries ## go vet, gofmt, staticcheck, and no built binary tracked

vet:
	$(GO) vet ./...
	$(GO) vet -tags e2e ./e2e/... ./charts/...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# no-binaries fails when git tracks (or has staged) a file over 512 KiB: such a file is a
# built binary added by mistake (`go build` drops them in the working tree).
no-binaries:
	@git ls-files -z --cached | xargs -0 -r stat -c '%s %n' 2>/dev/null | \
		awk '$$1 > 524288 { print "tracked file too large (a built binary?):", $$2; bad = 1 } END { exit bad }'

staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

sandbox: ## start the local sandbox cluster, Prometheus, Alertmanager and simulator
	$(GO) run ./e2e/sandbox/cmd/sandbox up

sandbox-down: ## stop every sandbox process and leave nothing running
	$(GO) run ./e2e/sandbox/cmd/sandbox down

# Router of the demo application: nginx (an Ingress) or gateway (a Gateway API HTTPRoute).
ROUTER ?= nginx

demo: sandbox build ## the main job: sandbox, chart, daemon and a live canary to watch (ROUTER=nginx|gateway)
	$(GO) run ./e2e/demo -router $(ROUTER)

# bench-peers starts the sandbox when it is not running and stops it again after.
BENCH_PEERS_FLAGS ?=

bench-peers: ## rolloutd and Flagger v1.44.0 side by side on the sandbox (under 30 min; not part of test): one table, see docs/benchmarks.md
	@started=; if [ ! -f $(SANDBOX)/env ]; then $(MAKE) sandbox || exit 1; started=1; fi; \
	$(GO) run ./e2e/bench/peers $(BENCH_PEERS_FLAGS); rc=$$?; \
	if [ -n "$$started" ]; then $(MAKE) sandbox-down; fi; exit $$rc

clean: ## remove build output
	rm -rf $(BIN)
