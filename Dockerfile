# syntax=docker/dockerfile:1
#
# evolux-exporter container image.
#
#   docker build -t evolux-exporter \
#     --build-arg VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)" \
#     --build-arg REVISION="$(git rev-parse HEAD)" \
#     --build-arg BRANCH="$(git rev-parse --abbrev-ref HEAD)" .
#   docker run --rm -p 10071:10071 evolux-exporter --demo
#
# Needs BuildKit (the default builder since Docker 23) for the cache mounts.
# For reproducible builds, pin both images by digest as well
# (`rust:1.95.0-bookworm@sha256:...`).

# Build on the same Debian release as the runtime image (bookworm = Debian 12),
# so the binary links against the glibc it will run with.
FROM rust:1.95.0-bookworm AS build
ARG REVISION=unknown
ARG BRANCH=unknown
WORKDIR /src
COPY . .
# The revision and branch end up in --version and evolux_exporter_build_info.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    EVOLUX_GIT_REVISION="${REVISION}" EVOLUX_GIT_BRANCH="${BRANCH}" cargo build --release --locked --bin evolux-exporter \
    && install -D -m 0755 target/release/evolux-exporter /out/evolux-exporter

# distroless/cc: glibc, libgcc and CA certificates, no shell, no package manager.
# (TLS uses rustls with the webpki roots compiled in; the CA bundle is spare.)
FROM gcr.io/distroless/cc-debian12:nonroot
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="evolux-exporter" \
      org.opencontainers.image.description="Prometheus exporter for Evolux Chat WhatsApp campaigns: subscribers by campaign, template and state" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="gcr.io/distroless/cc-debian12:nonroot"
COPY --from=build /out/evolux-exporter /usr/local/bin/evolux-exporter
# Numeric, so that Kubernetes' runAsNonRoot can verify it (65532 = distroless "nonroot").
USER 65532:65532
EXPOSE 10071
ENTRYPOINT ["/usr/local/bin/evolux-exporter"]
