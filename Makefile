# `make test` is the one test command (README, .ci/run): it installs what
# is missing (scripts/install-deps.sh), vets, runs every test with the race
# detector, then runs each fuzz target briefly. The test helpers bring up
# Redis, the MongoDB wire server (embedded FerretDB) and an SMTP sink
# themselves; see internal/testenv.
GO ?= go
TEST_TIMEOUT ?= 40m
FUZZTIME ?= 5s

.PHONY: test deps vet unit fuzz build run fmt

test: deps vet unit fuzz

deps:
	@bash scripts/install-deps.sh

vet:
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

# Each fuzz target for a few seconds (their seed corpora also run in `unit`).
fuzz:
	@set -e; for t in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$t/*_test.go | sed 's/func //'); do \
	    echo "fuzz $$t $$f"; $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$t; \
	  done; \
	done

build:
	$(GO) build -o bin/ ./cmd/...

run:
	$(GO) run ./cmd/standalone

fmt:
	gofmt -w $$(git ls-files '*.go')
