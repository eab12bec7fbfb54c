# The one test command: vet, then every test with the race detector. The
# test helpers bring up Redis, the MongoDB wire server (embedded FerretDB)
# and an SMTP sink themselves; see internal/testenv.
GO ?= go
TEST_TIMEOUT ?= 40m

.PHONY: test vet build run fmt

test: vet
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

vet:
	$(GO) vet ./...

build:
	$(GO) build -o bin/ ./cmd/...

run:
	$(GO) run ./cmd/standalone

fmt:
	gofmt -w $$(git ls-files '*.go')
