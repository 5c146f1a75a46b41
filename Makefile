# CreditDesk — the two commands a new user needs are `make run` and `make test`.
SHELL := /bin/bash
APT_PACKAGES := postgresql postgresql-contrib libpq-dev libssl-dev libcurl4-openssl-dev pkg-config jq uuid-runtime bc curl kannel kannel-extras python3-venv chromium chromium-driver
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
BIN := .build/debug/creditdesk

.PHONY: run test deps build release migrate clean bench bench-export bench-messaging chaos chaos-messaging ha-test contract console example docs

## run: install missing system packages, build, serve on an embedded PostgreSQL (Ctrl-C stops both)
run: deps build
	$(BIN) serve

## test: install missing system packages, build, run every test against a throwaway PostgreSQL,
## then the contract test (schemathesis against a running daemon, from a venv it creates), the
## console in a real Chromium (selenium, from a venv it creates), and the library example as a
## separate package
test: deps
	swift build --build-tests
	swift test --skip-build
	bash contract/run.sh
	bash console/run.sh
	bash Examples/EmbeddedLedger/check.sh

## console: the console's browser test alone (Chromium through selenium), screenshots in .build/console-screens
console: deps build
	bash console/run.sh

## example: build and run Examples/EmbeddedLedger (CreditDesk as a library) on a throwaway cluster
example: deps
	bash Examples/EmbeddedLedger/check.sh

## docs: the library's DocC documentation, into .build/docs (not part of `make test`)
docs:
	swift package --allow-writing-to-directory .build/docs generate-documentation --target CreditDesk \
	  --output-path .build/docs --transform-for-static-hosting

## contract: the contract test alone, on the debug build (EXAMPLES= per operation, default 50)
contract: deps build
	bash contract/run.sh

## deps: install the Debian packages CreditDesk needs, only those missing
deps:
	@missing=""; for package in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$package 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build:
	swift build

release:
	swift build -c release

## bench-export: 1M entries, API export vs COPY throughput and daemon RSS (prints a table)
bench-export: deps
	swift build -c release --product creditdesk
	bash bench/export.sh

## bench: pgbench vs API credit adjustments, balance reads, bulk reservations, daemon RSS; the
## console's Clients page over 10,000 clients next to /healthz (prints tables)
bench: deps
	swift build -c release --product creditdesk
	swift build -c release --product creditdesk-bench
	bash bench/credit.sh
	bash bench/console.sh

## bench-messaging: a campaign through a real Kannel next to Kannel's own rate (MESSAGING_RECIPIENTS, default 100000)
bench-messaging: deps
	swift build -c release --product creditdesk
	swift build -c release --product creditdesk-bench
	bash bench/messaging.sh

## chaos: SIGKILL the daemon and restart PostgreSQL under retrying clients; every acknowledged operation exactly once
chaos: deps build
	bash bench/chaos.sh

## ha-test: failover under retrying clients: a primary and a synchronous standby managed by
## pg_auto_failover (installed if missing), two daemons on a multi-host URL, the primary killed
ha-test: deps build
	@dpkg-query -W -f='$${Status}' postgresql-15-auto-failover 2>/dev/null | grep -q "install ok installed" || \
	  { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15-auto-failover; }
	bash bench/ha.sh

## chaos-messaging: a campaign through a real Kannel while the daemon is SIGKILLed 3 times and
## PostgreSQL restarted once; every message final, credits exact (CHAOS_RECIPIENTS, default 20000)
chaos-messaging: deps build
	bash bench/chaos-messaging.sh

migrate: build
	$(BIN) migrate

clean:
	swift package clean
