# The deployment bundle: app images, the Tilt/skaffold dev loops, the kind e2e suite and
# chart checks (docs/deploy.md). Included from the root Makefile:
#     -include hack/mk/deploy.mk
# Needs hack/mk/kind.mk (kind-up, images) for the cluster targets.

READSIDE_DEPLOY_MK := $(abspath $(lastword $(MAKEFILE_LIST)))
READSIDE_ROOT ?= $(abspath $(dir $(READSIDE_DEPLOY_MK))/../..)
TOOLCHAIN_BIN ?= $(READSIDE_ROOT)/.local/toolchain/bin
KIND_KUBECONFIG ?= $(READSIDE_ROOT)/.local/kind/kubeconfig
KIND_CLUSTER ?= $(or $(READSIDE_KIND_CLUSTER),readside)
KIND_PYTEST ?= $(if $(wildcard $(READSIDE_ROOT)/.venv/bin/pytest),$(READSIDE_ROOT)/.venv/bin/pytest,uv run --frozen pytest)

# Image names shared with hack/images (PYTHON_BASE_IMAGE, POSTGRES_IMAGE, REDIS_IMAGE, KAFKA_IMAGE).
-include $(READSIDE_ROOT)/hack/images/images.env
PYTHON_BASE_IMAGE ?= python:3.11-slim-bookworm
DEV_DEP_IMAGES := $(POSTGRES_IMAGE) $(REDIS_IMAGE) $(KAFKA_IMAGE)
APP_TAG ?= dev
# The operator image joins once its member declares the `readside-operator` entry point.
HAS_OPERATOR := $(shell grep -qs '^readside-operator *=' $(READSIDE_ROOT)/operator/pyproject.toml && echo yes)
APP_IMAGES := readside-query readside-projection $(if $(HAS_OPERATOR),readside-operator)
E2E_NAMESPACE ?= readside-e2e
SKAFFOLD_NAMESPACE ?= readside-skaffold

# The pinned tools first; Docker 20.10 speaks API 1.41 (newer clients must be told).
DEPLOY_ENV := PATH="$(TOOLCHAIN_BIN):$$PATH" KUBECONFIG="$(KIND_KUBECONFIG)" DOCKER_API_VERSION=1.41 \
              PYTHON_IMAGE="$(PYTHON_BASE_IMAGE)"
NICE_BUILD ?= nice -n 19
# kustomize when built, else kubectl's built-in copy.
KUSTOMIZE_BUILD ?= $(if $(wildcard $(TOOLCHAIN_BIN)/kustomize),$(TOOLCHAIN_BIN)/kustomize build,kubectl kustomize)

.PHONY: images-app kind-load-app kind-load-deps dev dev-down e2e e2e-kind e2e-skaffold e2e-clean \
        chart-lint kustomize-render

images-app: ## build the service images (readside-query, readside-projection, readside-operator), tag APP_TAG (dev)
	cd $(READSIDE_ROOT) && for image in $(APP_IMAGES); do \
	  args=""; case $$image in \
	    readside-query) member=services/query ;; \
	    readside-projection) member=services/projection; args=run ;; \
	    readside-operator) member=operator ;; \
	  esac; \
	  $(DEPLOY_ENV) $(NICE_BUILD) docker build -q --build-arg PYTHON_IMAGE=$(PYTHON_BASE_IMAGE) \
	    --build-arg MEMBER=$$member --build-arg PACKAGE=$$image --build-arg DEFAULT_ARGS=$$args \
	    -t $$image:$(APP_TAG) . >/dev/null || exit 1; \
	  echo "$$image:$(APP_TAG) $$(docker image inspect -f '{{.Size}}' $$image:$(APP_TAG) | awk '{printf "%.0f MB", $$1/1e6}')"; \
	done

kind-load-app: images-app ## load the service images into the kind cluster
	$(DEPLOY_ENV) kind load docker-image --name $(KIND_CLUSTER) $(addsuffix :$(APP_TAG),$(APP_IMAGES))

kind-load-deps: ## load PostgreSQL, Redis and Kafka images into the kind cluster (built by `make images` if absent)
	bash $(READSIDE_ROOT)/hack/images/build.sh postgres redis kafka
	$(DEPLOY_ENV) kind load docker-image --name $(KIND_CLUSTER) $(DEV_DEP_IMAGES)

dev: kind-up kind-load-deps ## the dev loop: kind cluster + tilt up (query API on localhost:8081)
	cd $(READSIDE_ROOT) && $(DEPLOY_ENV) tilt up

dev-down: ## remove what `make dev` deployed (the cluster stays)
	cd $(READSIDE_ROOT) && $(DEPLOY_ENV) tilt down

# The three stages all run and report, even after a failure (hack/kind/e2e.sh).
e2e: kind-up kind-load-deps kind-load-app ## tilt ci (sample orders served), the kind e2e suite with live update, helm test
	$(DEPLOY_ENV) E2E_NAMESPACE=$(E2E_NAMESPACE) KIND_PYTEST="$(KIND_PYTEST)" bash $(READSIDE_ROOT)/hack/kind/e2e.sh

e2e-kind: ## only the kind e2e suite (chart, kustomize, Tilt/skaffold checks, the release in kind)
	cd $(READSIDE_ROOT) && $(DEPLOY_ENV) READSIDE_E2E_NAMESPACE=$(E2E_NAMESPACE) $(KIND_PYTEST) -m kind e2e/kind

e2e-skaffold: kind-up kind-load-deps ## skaffold run -p kind into its own namespace, the release suite on it, helm test
	$(DEPLOY_ENV) kubectl create namespace $(SKAFFOLD_NAMESPACE) --dry-run=client -o yaml | $(DEPLOY_ENV) kubectl apply -f -
	cd $(READSIDE_ROOT) && SECONDS=0 && $(DEPLOY_ENV) skaffold run -p kind --kube-context kind-$(KIND_CLUSTER) \
	  --namespace $(SKAFFOLD_NAMESPACE) --status-check=true && echo "== skaffold run: $${SECONDS} s"
	cd $(READSIDE_ROOT) && $(DEPLOY_ENV) READSIDE_E2E_NAMESPACE=$(SKAFFOLD_NAMESPACE) READSIDE_E2E_SKAFFOLD=1 \
	  $(KIND_PYTEST) -m kind e2e/kind/test_skaffold_release.py
	$(DEPLOY_ENV) helm test readside -n $(SKAFFOLD_NAMESPACE) --logs --timeout 5m

e2e-clean: ## delete the e2e and skaffold namespaces (the cluster stays)
	-$(DEPLOY_ENV) helm uninstall readside -n $(E2E_NAMESPACE) --wait
	-$(DEPLOY_ENV) helm uninstall readside -n $(SKAFFOLD_NAMESPACE) --wait
	-$(DEPLOY_ENV) kubectl delete namespace $(E2E_NAMESPACE) $(SKAFFOLD_NAMESPACE) --ignore-not-found

chart-lint: ## helm lint --strict (default, kind, production values), kustomize base drift, overlay builds
	cd $(READSIDE_ROOT) && for values in "" deploy/helm/readside/values-kind.yaml deploy/helm/readside/values-production.yaml; do \
	  $(DEPLOY_ENV) helm lint --strict deploy/helm/readside $${values:+-f $$values} || exit 1; \
	done
	cd $(READSIDE_ROOT) && $(DEPLOY_ENV) bash deploy/kustomize/render.sh --check
	cd $(READSIDE_ROOT) && for overlay in kind production; do \
	  $(DEPLOY_ENV) $(KUSTOMIZE_BUILD) deploy/kustomize/overlays/$$overlay >/dev/null || exit 1; \
	  echo "kustomize build overlays/$$overlay: ok"; \
	done

kustomize-render: ## regenerate the kustomize base from the chart
	cd $(READSIDE_ROOT) && $(DEPLOY_ENV) bash deploy/kustomize/render.sh
