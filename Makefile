# unionportal: the two commands are `make run` and `make test` (see README.md).

# Go lives in /usr/local/go on the machines we build on; a PATH without it still works.
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
BIN := bin

.PHONY: run build ui node chromium haproxy exiftool dovecot test test-unit test-ui test-image test-deploy image image-context lint bench bench-upload bench-dispatch bench-render bench-letter bench-load clean

# The front-end tool chain never downloads a browser: the browser tests use Debian's.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

## build: build the web UI, then compile the portal (with the UI embedded) into bin/unionportal
build: ui
	$(GO) build -o $(BIN)/unionportal ./cmd/unionportal

## run: build and start the portal on the embedded default (SQLite, local files, outbox)
run: build
	./$(BIN)/unionportal serve --demo

## ui: install the front-end tool chain (npm ci) and build the web UI into frontend/dist
ui: node
	cd frontend && npm ci --no-audit --no-fund && npm run build

# apt-install: run $(1) as a command, or, missing, install the Debian package(s) $(2)
# with apt-get when root on Debian (then run the shell commands $(3), if any); otherwise
# stop, saying what to install.
define apt-install
	@command -v $(1) >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing $(2) with apt-get"; \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends $(2)$(if $(3), && { $(3); }); \
	  else echo "$(1) is missing: apt-get install $(2)"; exit 1; fi; }
endef

# node: npm is needed to install the tool chain (which brings its own Node.js 24).
node:
	$(call apt-install,npm,nodejs npm)

# chromium: the browser tests drive Debian's Chromium (a few minutes to install, once).
chromium:
	$(call apt-install,chromium,chromium)

# haproxy: the scale-out test (cmd/unionportal/scaleout_test.go) puts Debian's HAProxy in
# front of two serve processes.
haproxy:
	$(call apt-install,haproxy,haproxy)

# exiftool: the evidence-metadata tests write and read fixtures' metadata with it.
exiftool:
	$(call apt-install,exiftool,libimage-exiftool-perl)

# dovecot: the rig runs Debian's Dovecot as the IMAP server of the reply-polling tests, with
# its own configuration; the package's system service (ports 143/993) is stopped and disabled.
dovecot:
	$(call apt-install,dovecot,dovecot-imapd,$(DOVECOT_SERVICE_OFF))

DOVECOT_SERVICE_OFF := { systemctl disable --now dovecot.service dovecot.socket; \
	invoke-rc.d dovecot stop; update-rc.d dovecot disable; } >/dev/null 2>&1 || true

## test: lint, every Go test against real PostgreSQL 15, MinIO, Mailpit and Dovecot (and a Go
## client generated from the OpenAPI document with oapi-codegen, compiled), then the
## UI's unit tests and browser tests (against the real portal), the deploy/ module's
## tests (compose file) and the container image (built and run with podman, as root)
test: lint build chromium haproxy exiftool dovecot
	$(MAKE) test-deploy-k8s
	$(GO) build -o $(BIN)/testrig ./internal/testrig/cmd/testrig
	UNIONPORTAL_TEST_CODEGEN=1 GO=$(GO) ./$(BIN)/testrig -- internal/testrig/go-test-sharded.sh
	$(MAKE) test-ui
	$(MAKE) test-deploy
	$(MAKE) test-image

.PHONY: test-deploy-k8s
## test-deploy-k8s: render the Kubernetes overlay and decode it strictly into the k8s.io/api
## types with policy checks, parse the Prometheus rules (a Go module of their own, in
## deploy/kubernetes), and check the systemd units with systemd-analyze; no cluster needed
test-deploy-k8s:
	cd deploy/kubernetes && $(GO) vet ./... && $(GO) test -count=1 ./...
	deploy/systemd/check.sh

## test-ui: the UI's unit tests (Vitest) and browser tests (Playwright, Debian's Chromium)
test-ui:
	cd frontend && npm test && npm run e2e

## test-deploy: the deploy/ module's tests (deploy/compose.yaml loaded strictly by compose-go); no server needed
test-deploy:
	cd deploy && $(GO) vet ./... && $(GO) test -count=1 ./...

## test-image: build deploy/Dockerfile with podman (private vfs storage), run it as serve --demo
## and log in through its published port (root only; podman installed with apt-get when missing)
test-image: frontend/dist/index.html
	deploy/test-image.sh

# The UI is built by `make ui`; targets that only need some build of it depend on this.
frontend/dist/index.html:
	$(MAKE) ui

# The container image: deploy/Dockerfile copies onto `scratch` what image-context stages
# in bin/image/, so no base image is pulled (see the Dockerfile's header and ADR 0024).
IMAGE ?= unionportal:latest
# The image's binary reports this version (unionportal version, /healthz): git's by default.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt
CONTAINER ?= $(shell command -v podman 2>/dev/null || command -v docker 2>/dev/null)

## image: build the container image $(IMAGE) (podman, else docker; VERSION=1.2.3 sets the version)
image: ui image-context
	@test -n "$(CONTAINER)" || { echo "image: neither podman nor docker is installed"; exit 1; }
	$(CONTAINER) build $(if $(findstring podman,$(CONTAINER)),--format docker) -f deploy/Dockerfile -t $(IMAGE) .

## image-context: stage bin/image/ for deploy/Dockerfile: the static binary (CGO_ENABLED=0,
## -trimpath, the UI as built in frontend/dist), the host's CA bundle, empty /data and /tmp
image-context:
	@test -f frontend/dist/index.html || { echo "image-context: the web UI is not built (make ui, or make image)"; exit 1; }
	@test -r $(CA_BUNDLE) || { echo "image-context: no CA bundle at $(CA_BUNDLE) (Debian: apt-get install ca-certificates; or set CA_BUNDLE=)"; exit 1; }
	mkdir -p $(BIN)/image
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w$(if $(VERSION), -X main.version=$(VERSION))" -o $(BIN)/image/unionportal ./cmd/unionportal
	cp $(CA_BUNDLE) $(BIN)/image/ca-certificates.crt
	install -d -m 0700 $(BIN)/image/data
	install -d -m 1777 $(BIN)/image/tmp

## test-unit: the tests that need no server (PostgreSQL, S3, SMTP and IMAP tests skip)
test-unit:
	$(GO) test ./...

## bench: the list and detail benchmark (P1, P2, P3, P4, P8 of BENCHMARKS.md) on a private PostgreSQL
bench:
	$(GO) run ./bench/list

## bench-upload: the upload benchmark (P5, P6 of BENCHMARKS.md) on a private MinIO
bench-upload:
	$(GO) run ./bench/upload

## bench-dispatch: the dispatch benchmark (P7a, and P7 with rendering, of BENCHMARKS.md) on a private PostgreSQL and Mailpit
bench-dispatch:
	$(GO) run ./bench/dispatch

## bench-load: mixed load of simulated users on the embedded default and on PostgreSQL + MinIO (P12 of BENCHMARKS.md); for a quiet machine
bench-load:
	$(GO) run ./bench/load

## bench-render: letter render and revision diff of adversarial 1 MiB bodies (P10 of BENCHMARKS.md); no server needed
bench-render:
	$(GO) run ./bench/render

## bench-letter: the Case 3386 letter through the portal's fpdf renderer vs headless Chromium printing it as HTML, warm and cold (P7b of BENCHMARKS.md); needs Debian's Chromium
bench-letter: chromium
	$(GO) run ./bench/letter

## lint: gofmt and go vet
lint:
	@unformatted=$$(gofmt -l .); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf $(BIN)
