# syntax=docker/dockerfile:1.7
#
# One Dockerfile for the three commands; pick one with the build arg BINARY
# (or the stage of the same name with --target):
#
#   docker build --build-arg BINARY=api        -t im-websocket-go/api .
#   docker build --build-arg BINARY=gateway    -t im-websocket-go/gateway .
#   docker build --build-arg BINARY=standalone -t im-websocket-go/standalone .
#
# The images are distroless (no shell, no package manager) and run as the
# nonroot user 65532. Each also carries /usr/local/bin/imkeygen, which
# writes the API's signing key and doubles as an HTTP health probe for
# docker-compose (see cmd/imkeygen). Needs BuildKit (the default builder
# since Docker 23).

ARG BINARY=gateway
ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG BINARY
ARG TARGETOS
ARG TARGETARCH
RUN case "$BINARY" in api|gateway|standalone) ;; \
      *) echo "BINARY must be api, gateway or standalone, not '$BINARY'" >&2; exit 1 ;; esac
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w" -o /out/ "./cmd/${BINARY}" ./cmd/imkeygen
# Folders a named volume may be mounted on; a fresh volume takes their
# owner, so the nonroot user can write there.
RUN mkdir -p /out/keys /out/data /out/files

FROM gcr.io/distroless/static-debian12:nonroot AS base
COPY --from=build /out/imkeygen /usr/local/bin/imkeygen
COPY --from=build --chown=65532:65532 /out/keys /keys
# nonroot, numeric so that Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
LABEL org.opencontainers.image.source="https://github.com/im-websocket-go/im-websocket-go"

FROM base AS api
COPY --from=build /out/api /usr/local/bin/api
# Uploaded files when IM_BLOB_DIR=/files (docker-compose.yml mounts a volume).
COPY --from=build --chown=65532:65532 /out/files /files
ENV IM_HTTP_ADDR=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/api"]

FROM base AS gateway
COPY --from=build /out/gateway /usr/local/bin/gateway
ENV IM_WS_ADDR=0.0.0.0:8081 \
    IM_ADMIN_ADDR=0.0.0.0:9091
# 8081: WebSocket /ws; 9091: /healthz, /readyz, /metrics
EXPOSE 8081 9091
ENTRYPOINT ["/usr/local/bin/gateway"]

FROM base AS standalone
COPY --from=build /out/standalone /usr/local/bin/standalone
COPY --from=build --chown=65532:65532 /out/data /data
ENV IM_HTTP_ADDR=0.0.0.0:8080 \
    IM_DATA_DIR=/data
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/standalone"]

# The image built without --target: the stage named by BINARY.
FROM ${BINARY}
