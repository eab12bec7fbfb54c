# `make test` is the one test command (README, .ci/run): it installs what
# is missing (scripts/install-deps.sh), vets, runs every test with the race
# detector, then runs each fuzz target briefly. The test helpers bring up
# Redis, the MongoDB wire server (embedded FerretDB) and an SMTP sink
# themselves; see internal/testenv.
SHELL := /bin/bash
GO ?= go
TEST_TIMEOUT ?= 40m
FUZZTIME ?= 3s

# Binaries the tests run as processes, built once before them (as a
# release is) so no test spends its time budget compiling.
TEST_BIN_DIR := $(CURDIR)/.test-bin
export IM_TEST_BIN_DIR := $(TEST_BIN_DIR)

.PHONY: test deps vet testbin unit faults fuzz build run fmt

test: deps vet testbin sdk-js unit faults fuzz

deps:
	@bash scripts/install-deps.sh

# The TypeScript SDK (sdk/js, docs/sdk.md): the pinned compiler from
# package-lock.json, dist/ built with it, the browser's copy of dist/ in the
# web client (internal/web/static/js/sdk, committed; TestSDKCopyMatchesDist
# keeps it equal), then the SDK's unit tests in Node. Its integration test
# against a real server is a Go test (internal/sdktest), run by `unit`.
.PHONY: sdk-js
SDK_WEB_DIR := internal/web/static/js/sdk
sdk-js:
	cd sdk/js && npm ci --prefer-offline --no-audit --no-fund --loglevel=error && npx tsc -p tsconfig.json && npx tsc -p test/types && node --test --test-reporter=spec test/unit/
	rm -rf $(SDK_WEB_DIR) && mkdir -p $(SDK_WEB_DIR) && cp sdk/js/dist/*.js $(SDK_WEB_DIR)/

# vet compiles every package with the toolchain's default settings; testbin,
# the fault suite's test build and the fuzz builds use the same settings, so
# they find those packages in the build cache (the release image's
# CGO_ENABLED=0 -trimpath here cost a full recompile for each of them on a
# fresh machine, ~4 minutes in all). Nothing the tests check depends on them.
vet:
	$(GO) vet ./...

testbin:
	$(GO) build -o $(TEST_BIN_DIR)/ ./cmd/gateway ./cmd/standalone

# Three test binaries at a time on 2 CPUs: most packages wait on sockets,
# Redis, the database or a browser much of the time, and with the default
# (one per CPU) the CPUs sat 15-45 % idle through this step.
UNIT_PARALLEL ?= 3

# The longest packages are named first so they start first (go test runs
# the packages in the order given, ./... adds the rest once each): started
# last, in path order, they made the step's tail.
SLOW_FIRST := ./internal/gateway ./pkg/store/mongo ./internal/bench ./internal/httpapi \
	./internal/web ./internal/securitytest ./pkg/store/sqlite ./pkg/store/postgres

unit:
	$(GO) test -race -count=1 -p $(UNIT_PARALLEL) -timeout $(TEST_TIMEOUT) $(SLOW_FIRST) ./...

# The fault-injection suite runs alone (it kills and restarts processes and
# measures a live system), with the race detector off in the test process;
# the gateway processes it starts are ordinary builds. Its cases are the
# tests named TestFaults* (TestFaults: gateway, Redis and MongoDB faults;
# TestFaultsPostgresRestart: a private PostgreSQL restarted under load;
# TestFaultsRedisClusterPrimaryKill, TestFaultsRedisSentinelPrimaryKill: a
# Redis Cluster primary, the Sentinel primary killed under load).
faults: testbin
	IM_FAULT_SUITE=1 $(GO) test -count=1 -timeout 15m -run '^TestFaults' -v ./internal/faulttest 2>&1 | \
	  grep -E '^(=== RUN|--- |PASS|FAIL|ok|fault suite)|fault_test.go'; exit $${PIPESTATUS[0]}

# Each fuzz target for a few seconds (their seed corpora also run in `unit`).
# scripts/fuzz.sh works around a Go 1.26 fuzz-coordinator race (see there).
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

build:
	$(GO) build -o bin/ ./cmd/...

run:
	$(GO) run ./cmd/standalone

fmt:
	gofmt -w $$(git ls-files '*.go')
