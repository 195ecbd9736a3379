# One image for the Dataflow Flex Template launcher and for the Dataflow workers.
#
# The base is Apache Beam's Python 3.11 SDK image at the Beam version that setup.py
# pins (a test holds BEAM_VERSION equal to it), so /opt/apache/beam/boot, the
# workers' entrypoint, is there. The Flex Template launcher binary is copied in from
# Google's launcher image, so the same image can launch the job. fitbeam and its pinned
# dependencies are installed at build time: neither the launcher nor the workers install
# anything when a job starts. Launch with sdk_container_image set to this image so the
# workers run it too (docs/deploy-template.md).
#
#   gcloud builds submit --tag IMAGE .        (what `make template` runs)
#   docker build -t IMAGE . && docker push IMAGE

ARG BEAM_VERSION=2.77.0
# Override to pin a tag or digest, e.g. --build-arg LAUNCHER_IMAGE=...@sha256:...
ARG LAUNCHER_IMAGE=gcr.io/dataflow-templates-base/python311-template-launcher-base:latest

FROM ${LAUNCHER_IMAGE} AS launcher

FROM apache/beam_python3.11_sdk:${BEAM_VERSION}

COPY --from=launcher /opt/google/dataflow/python_template_launcher /opt/google/dataflow/python_template_launcher

# Installed from a scratch copy that is removed afterwards, so that the launcher and the
# workers import one copy of the code: the installed package.
COPY setup.py /tmp/fitbeam/
COPY healthapi /tmp/fitbeam/healthapi
COPY rows /tmp/fitbeam/rows
COPY schemas /tmp/fitbeam/schemas
COPY transforms /tmp/fitbeam/transforms
COPY pipeline /tmp/fitbeam/pipeline
COPY relay /tmp/fitbeam/relay
COPY commands /tmp/fitbeam/commands
COPY localdev /tmp/fitbeam/localdev
COPY simulator /tmp/fitbeam/simulator
COPY study /tmp/fitbeam/study
COPY history /tmp/fitbeam/history
RUN pip install --no-cache-dir --disable-pip-version-check /tmp/fitbeam \
    && rm -rf /tmp/fitbeam \
    && pip check

# The launcher runs this file with the template's parameters as --name=value flags.
# FLEX_TEMPLATE_PYTHON_SETUP_FILE and FLEX_TEMPLATE_PYTHON_REQUIREMENTS_FILE are left
# unset on purpose: the package is already installed, and setting them would make every
# launch build and stage it again.
WORKDIR /template
RUN printf '%s\n' 'import sys' '' 'from pipeline.flex_template import launch' '' \
        'sys.exit(launch(sys.argv[1:]))' > /template/main.py
ENV FLEX_TEMPLATE_PYTHON_PY_FILE=/template/main.py

# Dataflow starts the launcher itself; workers start through Beam's boot program.
ENTRYPOINT ["/opt/apache/beam/boot"]
