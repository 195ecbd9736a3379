"""Packaging for fitbeam: Fitbit / Google Health API data into BigQuery with Apache Beam.

Every third-party version the project depends on is pinned here and only here.
Apache Beam is pinned to the SDK version of the Flex Template launcher image.
"""

from setuptools import find_packages, setup

BEAM_VERSION = "2.77.0"  # keep equal to the Flex Template base image's SDK

INSTALL_REQUIRES = [
    f"apache-beam[gcp]=={BEAM_VERSION}",
    "requests==2.34.2",
    "requests-oauthlib==2.0.0",
    "oauthlib==4.0.1",
    "google-cloud-secret-manager==2.32.0",
    "google-crc32c==1.9.0",  # Secret Manager payload checksums
    "cryptography==50.0.2",  # webhook signatures (relay/, simulator/webhooks.py)
    "hypercorn==0.18.0",  # serves the webhook relay (relay/server.py): h11, time limits
    "h11==0.16.0",  # hypercorn's HTTP/1.1 parser; the relay's wire tests hold it to 0.16
    "fastavro==1.13.1",
    "tzdata==2026.6",
    # `fitbeam report`: charts in one self-contained HTML file (plotly.js inlined).
    "plotly==7.1.0",
    "narwhals==2.29.0",  # plotly's dataframe layer
]

TEST_REQUIRES = [
    "pytest==9.2.0",
    "ruff==0.17.6",
    # Ships the Google Health API discovery document (health.v4.json) that the
    # simulator's responses are validated against.
    "google-api-python-client==2.202.0",
    # Google's generated client of the API, read against the simulator in tests/conformance
    # (REST transport). Resolves inside apache-beam[gcp]'s pins: protobuf >=6.33.5,<7.
    "google-devicesandservices-health==0.1.5",
    # Parses deploy/terraform in tests/unit/test_terraform.py (checkov has a venv of its
    # own: `make tools`, pins in deploy/terraform/tools-requirements.txt).
    "python-hcl2==8.1.4",
    # Drives the system Chromium (Debian's chromium package, installed by .ci/run) to
    # test the HTML report in a real browser; it downloads no browser of its own.
    "playwright==1.65.3",
]

# The docs site (mkdocs.yml, docs/; `make docs`).
DOCS_REQUIRES = [
    "mkdocs==1.6.1",
    "pymdown-extensions==13.1.2",  # snippets (docs/terraform.md), code blocks in lists
]

setup(
    name="fitbeam",
    version="0.6.0",
    description="Move Fitbit data (Google Health API v4) into BigQuery with Apache Beam.",
    python_requires=">=3.11",
    packages=find_packages(
        include=[
            "healthapi*",
            "rows*",
            "schemas*",
            "transforms*",
            "pipeline*",
            "relay*",
            "commands*",
            "localdev*",
            "simulator*",
            "study*",
            "history*",
        ]
    ),
    package_data={"schemas": ["*.avsc"]},
    install_requires=INSTALL_REQUIRES,
    extras_require={"test": TEST_REQUIRES, "docs": DOCS_REQUIRES},
    entry_points={"console_scripts": ["fitbeam=commands.cli:main"]},
)
