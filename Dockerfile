# Multi-stage build: compile in the Rust image, run in a small Debian image (curl is there
# for the compose health checks).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
COPY examples ./examples
COPY tests ./tests
COPY keymaps ./keymaps
COPY themes ./themes
RUN cargo build --release --locked --bin arbdesk

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /data arbdesk
COPY --from=build /src/target/release/arbdesk /usr/local/bin/arbdesk
USER arbdesk
ENV ARBDESK_DATA_DIR=/data
VOLUME /data
EXPOSE 8000
ENTRYPOINT ["arbdesk"]
CMD ["--serve"]
