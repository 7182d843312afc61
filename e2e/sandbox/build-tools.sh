#!/usr/bin/env bash
# Builds the sandbox's control-plane binaries from their Go modules into a cache
# folder keyed by version, so that a second start, a fresh clone and CI build nothing
# again. Prints the folder holding the binaries on its last line.
#
# Usage: e2e/sandbox/build-tools.sh [--quiet]
set -euo pipefail

K8S_VERSION="${SANDBOX_K8S_VERSION:-v1.34.4}"
ETCD_VERSION="${SANDBOX_ETCD_VERSION:-v3.6.5}"
KWOK_VERSION="${SANDBOX_KWOK_VERSION:-v0.8.0}"
HELM_VERSION="${SANDBOX_HELM_VERSION:-v3.22.0}"
ISTIO_API_VERSION="${SANDBOX_ISTIO_API_VERSION:-v1.32.0}"

CACHE_ROOT="${ROLLOUTD_SANDBOX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rolloutd-sandbox}"
KEY="k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}_helm-${HELM_VERSION}_istio-${ISTIO_API_VERSION}"
OUT="$CACHE_ROOT/$KEY"
BIN="$OUT/bin"

log() { printf '[build-tools] %s\n' "$*" >&2; }
die() { printf '[build-tools] error: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null || die "go is not on PATH: install Go 1.24 or newer"
mkdir -p "$BIN" "$OUT/src"

# Two checkouts starting their sandboxes at once share this cache: the second
# waits for the first build instead of racing it on the same temporary names.
exec 9>"$OUT/.build.lock"
if command -v flock >/dev/null && ! flock -n 9; then
  log "another build of these tools is running; waiting for it"
  flock 9
fi

# Each tool is built into a temporary name and renamed, so an interrupted build
# never leaves a half-written binary that a later run would trust.
have() { [ -x "$BIN/$1" ]; }

timed() {
  local what=$1; shift
  local t0=$SECONDS
  log "building $what (cached afterwards in $OUT)"
  "$@"
  log "built $what in $((SECONDS - t0)) s"
}

build_kube() {
  local dir="$OUT/src/kubernetes" gomod
  mkdir -p "$dir"
  gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
  [ -f "$gomod" ] || die "could not download k8s.io/kubernetes@$K8S_VERSION"
  local minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  local staging="v0.${K8S_VERSION#v1.}"
  {
    echo "module rolloutd.io/sandbox/kubernetes"
    echo
    echo "go 1.24"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    grep -oE 'k8s.io/[a-z0-9.-]+ => ./staging/src/k8s.io/[a-z0-9.-]+' "$gomod" |
      awk -v v="$staging" '{print "replace " $1 " => " $1 " " v}'
  } >"$dir/go.mod"
  cat >"$dir/tools.go" <<'EOF'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
EOF
  local ld="" p
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  (cd "$dir" && GOFLAGS=-mod=mod go mod tidy -e >/dev/null 2>&1 || true
   cd "$dir" && GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w $ld" -o "$BIN/.tmp-kube/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl)
  for p in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    mv "$BIN/.tmp-kube/$p" "$BIN/$p"
  done
  rmdir "$BIN/.tmp-kube"
}

build_etcd() {
  local dir="$OUT/src/etcd"
  mkdir -p "$dir"
  cat >"$dir/main.go" <<'EOF'
// Command etcd runs the etcd server from its Go module.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
  printf 'module rolloutd.io/sandbox/etcd\n\ngo 1.24\n' >"$dir/go.mod"
  (cd "$dir" && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null 2>&1 &&
    go mod tidy >/dev/null 2>&1 && go build -trimpath -ldflags "-s -w" -o "$BIN/.tmp-etcd" .)
  mv "$BIN/.tmp-etcd" "$BIN/etcd"
}

build_kwok() {
  GOBIN="$BIN/.tmp-kwok" go install -trimpath -ldflags "-s -w" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION"
  mv "$BIN/.tmp-kwok/kwok" "$BIN/kwok"
  mv "$BIN/.tmp-kwok/kwokctl" "$BIN/kwokctl"
  rmdir "$BIN/.tmp-kwok"
  # Stage definitions for the standalone kwok controller ship in the module.
  local dir
  dir=$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  mkdir -p "$OUT/kwok-stages"
  find "$dir/kustomize/stage/node/fast" "$dir/kustomize/stage/pod/fast" -name '*.yaml' \
    ! -name kustomization.yaml -exec cp {} "$OUT/kwok-stages/" \; 2>/dev/null || true
  chmod u+w "$OUT"/kwok-stages/*.yaml 2>/dev/null || true
}

# helm's default Kubernetes version (what `helm template` and `helm lint` assume
# without --kube-version) is set at link time; helm's own release build takes it
# from the client-go version in its go.mod. A plain `go install` leaves v1.20, which
# fails every chart with a newer kubeVersion floor, so link the same value here.
helm_kube_minor() {
  local gomod
  gomod=$(go mod download -json "helm.sh/helm/$1@$HELM_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
  sed -n 's/^[[:space:]]*k8s\.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$gomod" | head -1
}

build_helm() {
  local major=${HELM_VERSION%%.*} minor ld
  minor=$(helm_kube_minor "$major")
  [ -n "$minor" ] || die "cannot read the client-go version from helm $HELM_VERSION's go.mod"
  ld="-X helm.sh/helm/$major/internal/version.version=$HELM_VERSION"
  for p in pkg/chartutil pkg/lint/rules; do
    ld="$ld -X helm.sh/helm/$major/$p.k8sVersionMajor=1 -X helm.sh/helm/$major/$p.k8sVersionMinor=$minor"
  done
  GOBIN="$BIN/.tmp-helm" go install -trimpath -ldflags "-s -w $ld" "helm.sh/helm/$major/cmd/helm@$HELM_VERSION"
  mv "$BIN/.tmp-helm/helm" "$BIN/helm"
  rmdir "$BIN/.tmp-helm"
  echo "1.$minor" >"$OUT/helm-kube-version"
}

fetch_istio_crds() {
  local dir
  dir=$(go mod download -json "istio.io/api@$ISTIO_API_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  [ -f "$dir/kubernetes/customresourcedefinitions.gen.yaml" ] || die "istio.io/api@$ISTIO_API_VERSION has no CRD file"
  cp "$dir/kubernetes/customresourcedefinitions.gen.yaml" "$OUT/.istio-crds.yaml"
  chmod u+w "$OUT/.istio-crds.yaml"
  mv "$OUT/.istio-crds.yaml" "$OUT/istio-crds.yaml"
}

have etcd || timed "etcd $ETCD_VERSION" build_etcd
have kwok && have kwokctl || timed "kwok $KWOK_VERSION" build_kwok
# A helm cached before its default Kubernetes version was linked is rebuilt once.
{ have helm && [ -f "$OUT/helm-kube-version" ]; } || timed "helm $HELM_VERSION" build_helm
[ -f "$OUT/istio-crds.yaml" ] || timed "Istio CRDs $ISTIO_API_VERSION" fetch_istio_crds
if ! have kube-apiserver || ! have kube-controller-manager || ! have kube-scheduler || ! have kubectl; then
  timed "kubernetes $K8S_VERSION (apiserver, controller-manager, scheduler, kubectl; about 6 min cold on 2 cores)" build_kube
fi
echo "$OUT"
