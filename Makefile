# unionportal: the two commands are `make run` and `make test` (see README.md).

# Go lives in /usr/local/go on the machines we build on; a PATH without it still works.
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
BIN := bin

.PHONY: run build test test-unit lint bench bench-upload bench-dispatch bench-render clean

## build: compile the portal into bin/unionportal
build:
	$(GO) build -o $(BIN)/unionportal ./cmd/unionportal

## run: build and start the portal on the embedded default (SQLite, local files, outbox)
run: build
	./$(BIN)/unionportal serve --demo

## test: lint, then every test against real PostgreSQL 15, MinIO and Mailpit
test: lint
	$(GO) build -o $(BIN)/testrig ./internal/testrig/cmd/testrig
	./$(BIN)/testrig -- $(GO) test -race -count=1 -timeout 20m ./...

## test-unit: the tests that need no server (PostgreSQL, S3 and SMTP tests skip)
test-unit:
	$(GO) test ./...

## bench: the list benchmark (P2, P3, P8 of BENCHMARKS.md) on a private PostgreSQL
bench:
	$(GO) run ./bench/list

## bench-upload: the upload benchmark (P5, P6 of BENCHMARKS.md) on a private MinIO
bench-upload:
	$(GO) run ./bench/upload

## bench-dispatch: the dispatch benchmark (P7 of BENCHMARKS.md) on a private PostgreSQL and Mailpit
bench-dispatch:
	$(GO) run ./bench/dispatch

## bench-render: letter render and revision diff of adversarial 1 MiB bodies (P10 of BENCHMARKS.md); no server needed
bench-render:
	$(GO) run ./bench/render

## lint: gofmt and go vet
lint:
	@unformatted=$$(gofmt -l .); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf $(BIN)
