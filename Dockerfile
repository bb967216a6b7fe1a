# Builds the one orakgaraki binary. The same image runs embedded or distributed;
# configuration (config.toml / ORAK_* variables) picks the backends.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked && cp target/release/orakgaraki /orakgaraki

FROM debian:bookworm-slim
RUN useradd --system --home /var/lib/orakgaraki orak && mkdir -p /var/lib/orakgaraki && chown orak /var/lib/orakgaraki
COPY --from=build /orakgaraki /usr/local/bin/orakgaraki
COPY config.toml /etc/orakgaraki/config.toml
USER orak
EXPOSE 8080
ENTRYPOINT ["orakgaraki"]
CMD ["serve", "--config", "/etc/orakgaraki/config.toml", "--data-dir", "/var/lib/orakgaraki", "--bind", "0.0.0.0:8080"]
