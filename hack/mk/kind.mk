# Air-gapped kind path (docs/airgap.md). Included from the root Makefile:
#     -include hack/mk/kind.mk
# Every recipe calls scripts by absolute path, so this works from any including Makefile.

READSIDE_KIND_MK := $(abspath $(lastword $(MAKEFILE_LIST)))
READSIDE_ROOT ?= $(abspath $(dir $(READSIDE_KIND_MK))/../..)
TOOLCHAIN_BIN := $(READSIDE_ROOT)/.local/toolchain/bin
KIND_KUBECONFIG := $(READSIDE_ROOT)/.local/kind/kubeconfig
KIND_PYTEST ?= $(if $(wildcard $(READSIDE_ROOT)/.venv/bin/pytest),$(READSIDE_ROOT)/.venv/bin/pytest,uv run --frozen pytest)

.PHONY: dockerd toolchain toolchain-present images node-image kind-up kind-down test-kind-smoke cold-proof

dockerd: ## start a Docker engine if none answers (installs Debian's docker.io if needed)
	bash $(READSIDE_ROOT)/hack/docker/ensure-dockerd.sh

toolchain: ## pinned kind/kubectl/helm/kustomize/tilt/skaffold + node binaries in .local/toolchain/bin (TOOLS="a b" for some)
	bash $(READSIDE_ROOT)/hack/toolchain/build.sh $(TOOLS)

toolchain-present: ## exit 0 when the cached toolchain and node image are present (never builds)
	@bash $(READSIDE_ROOT)/hack/toolchain/present.sh

images: ## base images (python, postgres, redis, kafka): present, pulled, or built locally
	bash $(READSIDE_ROOT)/hack/images/build.sh

node-image: toolchain ## the kind node image, built locally and cached by version
	bash $(READSIDE_ROOT)/hack/kind/build-node-image.sh

kind-up: toolchain ## single-node kind cluster "readside" (reuses a healthy one)
	bash $(READSIDE_ROOT)/hack/kind/up.sh

kind-down: ## delete the kind cluster (images stay cached)
	bash $(READSIDE_ROOT)/hack/kind/down.sh

cold-proof: ## not in CI, ~1 h: toolchain, images, node image, kind-up, e2e in a fresh clone with throwaway caches, timed
	bash $(READSIDE_ROOT)/hack/kind/cold-proof.sh

test-kind-smoke: ## smoke tests of the kind cluster (brings it up when the toolchain is present)
	cd $(READSIDE_ROOT) && $(KIND_PYTEST) -m kind e2e/kind_smoke
