# syntax=docker/dockerfile:1
#
# Image of the rolloutd daemon: a static binary on distroless/static, running as
# the unprivileged user 65532 (the chart's default runAsUser). Build (docs/helm.md):
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION=0.1.0 -t ghcr.io/rolloutd/rolloutd:0.1.0 --push .
#
# Only the module's Go sources are copied, so the sandbox's binaries and caches in
# .sandbox/ never enter the build.

ARG GO_VERSION=1.25

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Dependencies first: this layer is rebuilt only when go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY cmd/ cmd/
COPY internal/ internal/
COPY analysis/ analysis/
COPY router/ router/
COPY strategy/ strategy/
COPY traffic/ traffic/
ARG TARGETOS TARGETARCH
ARG VERSION=dev
# CGO_ENABLED=0: a static binary, no libc needed in the final image.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w -buildid=" -o /out/rolloutd ./cmd/rolloutd

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="rolloutd" \
      org.opencontainers.image.description="Metric-driven progressive delivery for Kubernetes Deployments" \
      org.opencontainers.image.source="https://github.com/rolloutd/rolloutd" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/rolloutd /usr/local/bin/rolloutd
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/rolloutd"]
