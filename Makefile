# Everyday commands; README.md lists them. CI runs the same checks through .ci/run.

GO ?= go
GOLANGCI_LINT ?= $(shell command -v golangci-lint 2>/dev/null || echo $$($(GO) env GOPATH)/bin/golangci-lint)
# The xborder-bench preset of `make bench` (see docs/benchmarks.md; smoke takes about a minute).
BENCH_PRESET ?= issue6

.PHONY: run test test-short lint vulncheck bench

## run: the whole system in one process (devnet, chaincode, REST gateway)
run:
	$(GO) run ./cmd/xborder dev

## test: every test, with the race detector (the README's test command)
test:
	$(GO) test -race -count=1 ./...

## test-short: the quick tests only (no soak, crash, end-to-end or real-Fabric runs)
test-short:
	$(GO) test -short -race ./...

## lint: gofmt, go vet and golangci-lint (.golangci.yml)
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GOLANGCI_LINT) run ./...

## vulncheck: go.sum complete and verified, and govulncheck against the vulnerability database
## fetched as a Go module (no access to vuln.go.dev needed; see .ci/vulncheck)
vulncheck:
	bash .ci/vulncheck

## bench: the benchmarks of docs/benchmarks.md: REST against SDK rounds on an embedded dev
## system (xborder-bench), then the devnet's submit benchmark
bench:
	$(GO) run ./cmd/xborder-bench --embedded --preset $(BENCH_PRESET)
	$(GO) test -run '^$$' -bench 'Submit/clients=(1|16|64)$$' -benchtime 2000x ./network/devnet
