# tributary — see README.md. Every target works on a fresh clone.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
BIN      := bin/tributary
CONFIG   ?= configs/tributary.yaml
# A static binary: no libc to match on the machine it is installed on
# (tests keep cgo: the race detector needs it).
BUILD_CGO ?= 0

# make install: PREFIX=/usr/local (the default) is a local admin's
# install, with its units in /etc/systemd/system; PREFIX=/usr is a
# distribution's (make deb), with its units in /lib/systemd/system.
PREFIX   ?= /usr/local
DESTDIR  ?=
BINDIR   ?= $(PREFIX)/bin
DATADIR  ?= $(PREFIX)/share/tributary
DOCDIR   ?= $(PREFIX)/share/doc/tributary
CONFDIR  ?= /etc/tributary
ifeq ($(PREFIX),/usr)
UNITDIR     ?= /lib/systemd/system
SYSUSERSDIR ?= /usr/lib/sysusers.d
else
UNITDIR     ?= /etc/systemd/system
SYSUSERSDIR ?= /etc/sysusers.d
endif

# make deb: the version from a v1.2.3 tag, else 0~gitDATE.COMMIT.
DEB_VERSION ?= $(shell v=$$(git describe --tags --match 'v[0-9]*' 2>/dev/null) && echo "$${v\#v}" | tr - + || \
	echo "0~git$$(git log -1 --format=%cd --date=format:%Y%m%d%H%M%S 2>/dev/null || echo 0).$$(git rev-parse --short HEAD 2>/dev/null || echo dev)")
DEB_ARCH    ?= $(shell dpkg --print-architecture 2>/dev/null || $(GO) env GOARCH)
DEB_ROOT    := bin/deb/root
DEB         := bin/tributary_$(DEB_VERSION)_$(DEB_ARCH).deb

.PHONY: build run test bench bench-e2e lint install deb clean

build:
	CGO_ENABLED=$(BUILD_CGO) $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/tributary

run: build
	./$(BIN) run --config $(CONFIG)

test:
	$(GO) test -race -count=1 ./...

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# install: the binary, the systemd units, the service user's sysusers.d
# entry, the samples, and /etc/tributary/tributary.yaml — never over an
# existing one. Into the running system (no DESTDIR) it also creates the
# user and tells systemd; then: systemctl enable --now tributary.
install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/tributary
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DATADIR)/samples $(DESTDIR)$(CONFDIR)
	sed 's#/usr/bin/tributary#$(BINDIR)/tributary#' configs/tributary.service > $(DESTDIR)$(UNITDIR)/tributary.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/tributary.service
	install -m 0644 configs/tributary.socket $(DESTDIR)$(UNITDIR)/tributary.socket
	install -D -m 0644 configs/tributary.sysusers $(DESTDIR)$(SYSUSERSDIR)/tributary.conf
	install -m 0644 configs/samples/* $(DESTDIR)$(DATADIR)/samples/
	install -D -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	install -D -m 0644 configs/tributary.yaml $(DESTDIR)$(DOCDIR)/examples/tributary.yaml
	@if [ -e $(DESTDIR)$(CONFDIR)/tributary.yaml ]; then \
		echo "keeping existing $(DESTDIR)$(CONFDIR)/tributary.yaml"; \
	else \
		sed 's#/usr/share/tributary/#$(DATADIR)/#' configs/tributary.system.yaml > $(DESTDIR)$(CONFDIR)/tributary.yaml && \
		chmod 0644 $(DESTDIR)$(CONFDIR)/tributary.yaml; \
	fi
	@if [ -z "$(DESTDIR)" ]; then \
		if command -v systemd-sysusers >/dev/null; then systemd-sysusers $(SYSUSERSDIR)/tributary.conf; fi; \
		if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
		echo "installed; start it with: systemctl enable --now tributary"; \
	fi

# deb: a Debian package of the same files (PREFIX=/usr), whose scripts
# create the user and the state directory and enable the service; the
# config is a conffile, so an admin's edits survive upgrades.
deb:
	rm -rf $(DEB_ROOT)
	$(MAKE) install DESTDIR=$(CURDIR)/$(DEB_ROOT) PREFIX=/usr
	install -d $(DEB_ROOT)/DEBIAN
	sed -e 's/@VERSION@/$(DEB_VERSION)/' -e 's/@ARCH@/$(DEB_ARCH)/' \
		-e "s/@SIZE@/$$(du -sk --exclude=DEBIAN $(DEB_ROOT) | cut -f1)/" \
		configs/debian/control > $(DEB_ROOT)/DEBIAN/control
	install -m 0644 configs/debian/conffiles $(DEB_ROOT)/DEBIAN/conffiles
	install -m 0755 configs/debian/postinst configs/debian/prerm configs/debian/postrm $(DEB_ROOT)/DEBIAN/
	cd $(DEB_ROOT) && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum > DEBIAN/md5sums
	dpkg-deb --root-owner-group -Zxz --build $(DEB_ROOT) $(DEB)
	@echo "built $(DEB)"

clean:
	rm -rf bin

# bench-e2e: tributary against a bare Go poller and newsboat on a loopback
# feed farm, then serving a topic feed against nginx under wrk; it needs
# apt install newsboat nginx-light wrk time. BENCH_E2E_FLAGS e.g.
# "-sources 500 -runs 3" or "-sides tributary,serve".
bench-e2e:
	CGO_ENABLED=$(BUILD_CGO) $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/tributary ./cmd/tributary
	$(GO) build -o bin/feedfarm ./cmd/feedfarm
	$(GO) build -o bin/barepoller ./cmd/barepoller
	$(GO) build -o bin/benche2e ./cmd/benche2e
	./bin/benche2e -bin bin $(BENCH_E2E_FLAGS)
