# tributary — see README.md. Every target works on a fresh clone.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
BIN      := bin/tributary
CONFIG   ?= configs/tributary.yaml
PREFIX   ?= /usr/local
DESTDIR  ?=

.PHONY: build run test bench lint install clean

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/tributary

run: build
	./$(BIN) run --config $(CONFIG)

test:
	$(GO) test -race -count=1 ./...

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/tributary
	install -d $(DESTDIR)/etc/tributary
	@if [ -e $(DESTDIR)/etc/tributary/tributary.yaml ]; then \
		echo "keeping existing $(DESTDIR)/etc/tributary/tributary.yaml"; \
	else \
		install -m 0644 configs/tributary.yaml $(DESTDIR)/etc/tributary/tributary.yaml; \
	fi
	install -d $(DESTDIR)/etc/tributary/samples
	install -m 0644 configs/samples/* $(DESTDIR)/etc/tributary/samples/

clean:
	rm -rf bin
