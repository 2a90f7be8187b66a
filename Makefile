# Readside: the two commands that matter are `make up` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV ?= uv
export PATH := $(HOME)/.local/bin:$(PATH)

.PHONY: help up down test lint unit integration migrate stack-up stack-down clean \
        bench-query bench-read-after-write bench-projection bench-autoscaling bench-replay deps soak-projection

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-24s %s\n", $$1, $$2}'

deps: ## install uv (if missing) and the workspace's locked dependencies
	@command -v $(UV) >/dev/null || python3 -m pip install --quiet uv
	$(UV) sync --frozen --quiet

up: deps stack-up migrate ## the whole read side on this machine, with the sample data
	bash hack/dev/services.sh start
	eval "$$(bash hack/stack/stack.sh env)" && \
		$(UV) run --frozen readside-events publish e2e/fixtures/sample.events.jsonl
	$(UV) run --frozen python hack/dev/check_sample.py

down: ## stop the services and the local servers
	bash hack/dev/services.sh stop
	bash hack/stack/stack.sh down

stack-up: ## start PostgreSQL, Redis and Kafka on loopback (installs what is missing)
	bash hack/stack/stack.sh up

stack-down:
	bash hack/stack/stack.sh down

clean: down ## stop everything and delete local state
	bash hack/stack/stack.sh clean
	rm -rf .local/run

migrate: deps stack-up ## create or upgrade the read-model schema
	eval "$$(bash hack/stack/stack.sh env)" && $(UV) run --frozen readside-projection migrate

lint: deps ## ruff and mypy (strict for libs/)
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy libs/readside-core/src libs/readside-kafka/src libs/readside-testkit/src services/query/src services/projection/src operator/src

test: lint ## every test: lint, unit, integration, e2e (kind suites when the toolchain is present)
	$(UV) run --frozen pytest

unit: deps ## only the pure-logic tests
	$(UV) run --frozen pytest -m unit

bench-query: deps stack-up ## load the query service with wrk, beside a bare Granian endpoint
	$(UV) run --frozen python services/query/bench/bench_query.py

bench-read-after-write: deps stack-up ## gated reads after publish at 500 and 2,000 events/s; 1,000 change streams
	$(UV) run --frozen python services/query/bench/bench_read_after_write.py

bench-projection: deps stack-up ## projection throughput, end-to-end latency, COPY ceiling
	$(UV) run --frozen python services/projection/bench/bench_projection.py

soak-projection: deps stack-up ## the 10-minute chaos soak (make test runs a 60-second one)
	SOAK_SECONDS=600 $(UV) run --frozen pytest -s -p no:cacheprovider services/projection/tests/test_soak.py

bench-autoscaling: deps stack-up ## operator scalings over a 10-minute sawtooth (real Kafka + kube-apiserver)
	$(UV) run --frozen python operator/bench/bench_autoscaling.py

bench-replay: deps kind-up kind-load-deps kind-load-app ## rebuild 1,000,000 events InPlace and BlueGreen in the kind cluster (EVENTS=N for another count)
	APP_TAG=$(APP_TAG) $(UV) run --frozen python operator/bench/bench_replay.py $(if $(EVENTS),--events $(EVENTS))

-include hack/mk/kind.mk
-include hack/mk/deploy.mk
