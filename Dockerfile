# syntax=docker/dockerfile:1
# The xborder CLI and REST gateway (`xborder gateway --config FILE`), as a static binary on a
# distroless base, running as a non-root user. Build: docker build -t xborder .
ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/xborder ./cmd/xborder \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/xborder /usr/local/bin/xborder
# The gateway's state (idempotency records, event log); mount a volume here.
COPY --from=build --chown=65532:65532 /out/data /var/lib/xborder
USER 65532:65532
ENV XBORDER_DATA_DIR=/var/lib/xborder
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/xborder"]
CMD ["gateway", "--config", "/etc/xborder/gateway.yaml"]
