# syntax=docker/dockerfile:1
# One Dockerfile for both connectors of this repo, in the manner of Airbyte's python-connector template:
#   docker build --build-arg CONNECTOR_NAME=source-contacts      -t airbyte/source-contacts:0.1.0 .
#   docker build --build-arg CONNECTOR_NAME=destination-contacts -t airbyte/destination-contacts:0.1.0 .
# BASE_IMAGE defaults to the python:3.11-slim-bookworm release that Airbyte's python-connector-base
# pins, by digest; metadata.yaml's connectorBuildOptions.baseImage names the same image
# (unit_tests/test_metadata.py checks both, and that CONNECTOR_VERSION is the package's version).

ARG BASE_IMAGE=docker.io/library/python:3.11.11-slim-bookworm@sha256:6ed5bff4d7d377e2a27d9285553b8c21cfccc4f00881de1b24c9bc8d90016e82
# Checked against the package's version in the builder, and written into the image's label: one value for both.
ARG CONNECTOR_VERSION=0.1.0

# The package and its runtime dependencies (no dev extras) go to /install; the sources stay in this stage.
FROM ${BASE_IMAGE} AS builder
WORKDIR /airbyte/integration_code
# Dependencies first, in a layer that only a change to pyproject.toml rebuilds (an empty README stands in).
COPY pyproject.toml ./
RUN touch README.md \
    && pip install --no-cache-dir --disable-pip-version-check --root-user-action=ignore --prefix=/install . \
    && rm -rf /install/lib/python3.11/site-packages/airbyte_contacts_connectors-*.dist-info README.md
COPY README.md ./
COPY contacts_api ./contacts_api
COPY source_contacts ./source_contacts
COPY destination_contacts ./destination_contacts
ARG CONNECTOR_VERSION
RUN pip install --no-cache-dir --disable-pip-version-check --root-user-action=ignore --prefix=/install --no-deps . \
    && installed=$(PYTHONPATH=/install/lib/python3.11/site-packages python -c \
        'import importlib.metadata as m; print(m.version("airbyte-contacts-connectors"))') \
    && { test "$installed" = "$CONNECTOR_VERSION" \
         || { echo "package version $installed != CONNECTOR_VERSION $CONNECTOR_VERSION" >&2; exit 1; }; }

FROM ${BASE_IMAGE}
# A non-root user, as in Airbyte's base image (uid 1000, home /airbyte).
RUN groupadd --gid 1000 airbyte \
    && useradd --uid 1000 --gid airbyte --home-dir /airbyte --no-create-home --shell /usr/sbin/nologin airbyte \
    && mkdir --mode 755 /airbyte \
    && chown airbyte:airbyte /airbyte
COPY --from=builder /install /usr/local

# Everything above is shared by both images; only what follows depends on the connector.
ARG CONNECTOR_NAME=source-contacts
ARG CONNECTOR_VERSION
RUN test -x "/usr/local/bin/${CONNECTOR_NAME}" \
       || { echo "CONNECTOR_NAME must be source-contacts or destination-contacts, not '${CONNECTOR_NAME}'" >&2; exit 1; } \
    && ln -s "${CONNECTOR_NAME}" /usr/local/bin/airbyte-entrypoint

WORKDIR /airbyte
# By number, so that Kubernetes' runAsNonRoot can tell it is not root.
USER 1000:1000
LABEL io.airbyte.name="airbyte/${CONNECTOR_NAME}" \
      io.airbyte.version="${CONNECTOR_VERSION}"
ENV AIRBYTE_ENTRYPOINT="/usr/local/bin/airbyte-entrypoint"
ENTRYPOINT ["/usr/local/bin/airbyte-entrypoint"]
