# layerlab's own image: the server alone, a static binary on busybox, run by
# an unprivileged user.
#
# Online, the build stage downloads the Go modules with `go mod download`.
# Where the Go module proxy is out of reach (layerlab's own worker, an
# offline room), scripts/image-context.sh writes a build context that
# carries them as `go mod vendor` output, and the build uses that instead.
#
# The server needs a BuildKit worker: give it one with BUILDKIT_HOST. The
# managed buildkitd of `layerlab serve` needs root and runc, which this image
# leaves out on purpose.

FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
COPY go.mod go.sum ./
# The pattern matches vendor/ when the context has it, and nothing otherwise.
COPY vendo[r] vendor/
RUN test -f vendor/modules.txt || go mod download
COPY . .
RUN go build -ldflags="-s -w" -o /out/layerlab ./cmd/layerlab

FROM busybox AS runtime
# A numeric user, so that no adduser is needed: not every busybox has it.
RUN mkdir -p /var/lib/layerlab && chown 10001:10001 /var/lib/layerlab
COPY --from=build /out/layerlab /usr/local/bin/layerlab
USER 10001:10001
WORKDIR /var/lib/layerlab
ENV LAYERLAB_ADDR=0.0.0.0:8080 LAYERLAB_DATA=/var/lib/layerlab
EXPOSE 8080
# busybox has wget; /healthz answers 503 while the worker is unreachable.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s \
    CMD wget -q -O /dev/null http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["layerlab"]
CMD ["serve"]
