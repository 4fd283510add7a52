# analyzer: build in the official Rust image, run in Debian slim as a non-root user.
# Configuration: /etc/analyzer/analyzer.toml (this repository's, baked in), then
# ANALYZER_<SECTION>__<KEY> environment variables, e.g.
#   ANALYZER_KAFKA__BROKERS=kafka:9092  ANALYZER_KAFKA__TOPICS=events,audit
#   ANALYZER_CLASSIFY__BY=header        ANALYZER_CLASSIFY__NAME=item_type_name
#   ANALYZER_CACHE__MAX_BYTES=268435456 ANALYZER_HTTP__SHUTDOWN_TIMEOUT_SECS=20
# or mount another file there (a Kubernetes ConfigMap).

FROM rust:1.95-slim-bookworm AS build
# librdkafka and what it links statically (OpenSSL, libcurl, zstd, zlib) are
# compiled from source: C toolchain, make, and perl for OpenSSL's Configure.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential pkg-config perl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src

# Dependencies first (librdkafka included): this layer is rebuilt only when the
# manifest, the lock file or the vendored crate change, not on every source edit.
COPY Cargo.toml Cargo.lock ./
COPY vendor ./vendor
RUN mkdir -p src benches \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && echo 'fn main() {}' > benches/view.rs \
    && cargo build --release --locked --bin analyzer \
    && rm -rf src benches

COPY src ./src
COPY benches ./benches
# Newer mtimes than the stub build, so cargo rebuilds the crate itself.
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin analyzer

FROM debian:bookworm-slim
# The binary links everything but glibc statically; the image adds the public CA
# certificates, which librdkafka finds at the standard path (ssl.ca.location
# "probe", analyzer's default), so a broker with a public certificate verifies with
# no setting. Versions are not pinned: the Debian security archive moves them on;
# the tag pins the release. hadolint ignore=DL3008 is for that.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin analyzer
# glibc's dynamic mmap threshold lets the large, short-lived buffers of cold
# lookups (point reads from Kafka) fragment the heap: RSS crept without bound in
# the soak test (27 to 86 MiB in 60 s); with a fixed threshold it stays flat.
ENV MALLOC_MMAP_THRESHOLD_=131072
COPY --from=build /src/target/release/analyzer /usr/local/bin/analyzer
COPY analyzer.toml /etc/analyzer/analyzer.toml
USER 10001
EXPOSE 8110
ENTRYPOINT ["/usr/local/bin/analyzer", "--config", "/etc/analyzer/analyzer.toml"]
