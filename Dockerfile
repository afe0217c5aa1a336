# The loadcast image, built from this repository's source: what `loadcast export kubernetes`
# runs on each shard's pod and in the merge Job (docs/many-machines.md).
#   docker build -t registry.example/loadcast:0.1.0 .
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p loadcast

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/loadcast /usr/local/bin/loadcast
# No root needed: the pods write their results to object storage, not to the image.
USER 65534:65534
ENTRYPOINT ["loadcast"]
