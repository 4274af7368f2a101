.PHONY: test build lint bench fmt

test: ## gofmt, vet, staticcheck and all tests (starts throwaway PostgreSQL servers)
	bash scripts/test.sh

build:
	go build -o bin/tierflow ./cmd/tierflow

lint: ## gofmt, vet and staticcheck only
	bash scripts/test.sh --lint-only

bench:
	go test -run '^$$' -bench . -benchmem ./...

fmt:
	git ls-files -z --cached --others --exclude-standard -- '*.go' | xargs -0 -r gofmt -w
