"""Resumable uploads to the local GCS emulator, which appends each chunk to the partial file.

`localdev.emulators.linear_resumable_uploads` replaces how gcp-storage-emulator
keeps a partial upload; these tests hold the answers to the protocol: the
bytes received, a chunk at the wrong offset refused, the object whole when it
completes, on disk where the BigQuery emulator reads it, and nothing left over.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import requests
from google.cloud import storage

from localdev import emulators

CHUNK = 256 * 1024  # the smallest chunk the resumable protocol allows


def test_chunked_upload_through_the_storage_client(local_gcp):
    name = f"uploads/{uuid.uuid4().hex}.bin"
    data = os.urandom(5 * CHUNK + 12345)
    blob = storage.Client(project=emulators.PROJECT).bucket(emulators.DEFAULT_BUCKET).blob(name)
    with blob.open("wb", chunk_size=CHUNK) as out:  # a resumable upload in 6 chunks
        for i in range(0, len(data), 100_000):
            out.write(data[i : i + 100_000])

    assert blob.download_as_bytes() == data
    on_disk = local_gcp.state_dir / "gcs" / ".cloudstorage" / emulators.DEFAULT_BUCKET / name
    assert on_disk.read_bytes() == data
    assert _partial_uploads(local_gcp) == []


def test_resumable_protocol_answers(local_gcp):
    host = os.environ["STORAGE_EMULATOR_HOST"]
    name = f"uploads/{uuid.uuid4().hex}.bin"
    data = os.urandom(3 * CHUNK + 777)
    started = requests.post(
        f"{host}/upload/storage/v1/b/{emulators.DEFAULT_BUCKET}/o",
        params={"uploadType": "resumable", "name": name},
        json={"name": name},
        timeout=30,
    )
    assert started.status_code == 200, started.text
    session = started.headers["Location"]

    def put(body: bytes, content_range: str) -> requests.Response:
        return requests.put(
            session, data=body, headers={"Content-Range": content_range}, timeout=30
        )

    first = put(data[:CHUNK], f"bytes 0-{CHUNK - 1}/*")
    assert (first.status_code, first.headers["Range"]) == (308, f"bytes=0-{CHUNK - 1}")
    second = put(data[CHUNK : 2 * CHUNK], f"bytes {CHUNK}-{2 * CHUNK - 1}/*")
    assert (second.status_code, second.headers["Range"]) == (308, f"bytes=0-{2 * CHUNK - 1}")
    status = put(b"", "bytes */*")
    assert (status.status_code, status.headers["Range"]) == (308, f"bytes=0-{2 * CHUNK - 1}")
    wrong = put(data[CHUNK : 2 * CHUNK], f"bytes {CHUNK}-{2 * CHUNK - 1}/*")
    assert wrong.status_code == 400
    assert "expected 524288, got 262144" in wrong.text

    last = put(data[2 * CHUNK :], f"bytes {2 * CHUNK}-{len(data) - 1}/{len(data)}")
    assert last.status_code == 200, last.text
    assert last.json()["size"] == str(len(data))
    blob = storage.Client(project=emulators.PROJECT).bucket(emulators.DEFAULT_BUCKET).blob(name)
    assert blob.download_as_bytes() == data
    assert _partial_uploads(local_gcp) == []


def _partial_uploads(local_gcp) -> list[Path]:
    folder = local_gcp.state_dir / "gcs" / ".cloudstorage" / "_resumable"
    return sorted(folder.iterdir()) if folder.exists() else []
