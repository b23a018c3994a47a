# Multi-stage: build with the Rust toolchain, run on a slim Debian as a non-root user.
# The image expects an external PostgreSQL (DATABASE_URL); the embedded cluster is for
# machines that have the `postgresql` package installed.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
COPY config ./config
RUN cargo build --release --locked --bin salgate

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/salgate --create-home salgate
COPY --from=build /src/target/release/salgate /usr/local/bin/salgate
USER salgate
WORKDIR /var/lib/salgate
ENV SALGATE_LISTEN=0.0.0.0:8080 \
    SALGATE_DATA_DIR=/var/lib/salgate
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/salgate"]
CMD ["serve"]
