# layerlab: `make run` sets up and serves; `make test` runs every test.

GO        ?= go
DATA      ?= data
ADDR      ?= 127.0.0.1:8080
BUILDKIT_VERSION := $(shell $(GO) list -m -f '{{.Version}}' github.com/moby/buildkit)
BUILDKIT_LDFLAGS := -X github.com/moby/buildkit/version.Version=$(BUILDKIT_VERSION)
GO_SOURCES := $(shell find . -name '*.go' -not -path './bin/*' -not -path './data/*' 2>/dev/null)

.PHONY: run build deps images generate check-generated vet test bench clean

run: deps build
	bin/layerlab images seed --data $(DATA)
	bin/layerlab serve --addr $(ADDR) --data $(DATA)

build: bin/layerlab bin/buildkitd bin/buildctl

deps:
	scripts/install-deps.sh

bin/layerlab: $(GO_SOURCES) go.mod go.sum
	$(GO) build -o $@ ./cmd/layerlab

# buildkitd and buildctl come from the BuildKit version pinned in go.mod.
bin/buildkitd: go.mod go.sum
	$(GO) build -ldflags '$(BUILDKIT_LDFLAGS)' -o $@ github.com/moby/buildkit/cmd/buildkitd

bin/buildctl: go.mod go.sum
	$(GO) build -ldflags '$(BUILDKIT_LDFLAGS)' -o $@ github.com/moby/buildkit/cmd/buildctl

images: deps bin/layerlab
	bin/layerlab images seed --data $(DATA)

generate:
	$(GO) tool templ generate

# The generated templ code is committed; it must match its sources.
check-generated:
	$(GO) tool templ generate
	git diff --exit-code -- '*_templ.go' || \
		(echo "generated templ code is stale: run make generate and commit" >&2; exit 1)
	test -z "$$(git status --porcelain -- '*_templ.go')" || \
		(echo "templ generated files are not committed" >&2; exit 1)

vet:
	$(GO) vet ./...
	test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '_templ.go$$'))" || \
		(gofmt -l $$(git ls-files '*.go' | grep -v '_templ.go$$'); echo "gofmt needed" >&2; exit 1)

# Test binaries compile in parallel first; the packages then run one at a
# time, since each integration package starts its own buildkitd and two of
# them building at once on two cores only slow each other down.
test: deps build check-generated vet
	$(GO) test -race -count=1 -exec /bin/true ./... >/dev/null
	LAYERLAB_BUILDKITD=$(CURDIR)/bin/buildkitd LAYERLAB_BUILDCTL=$(CURDIR)/bin/buildctl \
		$(GO) test -race -count=1 -p 1 -timeout 60m ./...

bench: deps build
	LAYERLAB_BUILDKITD=$(CURDIR)/bin/buildkitd LAYERLAB_BUILDCTL=$(CURDIR)/bin/buildctl \
		$(GO) run ./cmd/layerlab-bench
	@echo "image analysis against dive (300 MB, 10 layers):"
	-$(GO) run ./sizes/cmd/sizebench

clean:
	rm -rf bin
