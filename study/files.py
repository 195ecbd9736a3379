"""Files under a `gs://` or local root, for the study commands (Beam-free).

Dead letters, audit records and archived responses live under roots such as
`gs://bucket/dead-letters` or a local folder. This lists, reads, writes and
deletes objects under either, with google-cloud-storage for `gs://` (which
honours `STORAGE_EMULATOR_HOST`) and plain file operations otherwise.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class Root:
    """A folder of objects: `gs://bucket/prefix` or a local path."""

    uri: str

    @property
    def is_gcs(self) -> bool:
        return self.uri.startswith("gs://")

    def _bucket_prefix(self) -> tuple[str, str]:
        bucket, _, prefix = self.uri[len("gs://") :].partition("/")
        if not bucket:
            raise ValueError(f"no bucket in {self.uri[:80]!r}; e.g. gs://my-bucket/dead-letters")
        return bucket, prefix.strip("/")

    def _bucket(self):
        from google.cloud import storage

        if os.environ.get("STORAGE_EMULATOR_HOST"):
            from google.auth.credentials import AnonymousCredentials

            client = storage.Client(
                project=os.environ.get("GOOGLE_CLOUD_PROJECT", "local"),
                credentials=AnonymousCredentials(),
            )
        else:
            client = storage.Client()
        return client.bucket(self._bucket_prefix()[0])

    def list(self, suffix: str = "") -> Iterator[str]:
        """Every object's path under the root, relative to it, sorted."""
        if self.is_gcs:
            _, prefix = self._bucket_prefix()
            start = f"{prefix}/" if prefix else ""
            names = (b.name for b in self._bucket().list_blobs(prefix=start))
            yield from sorted(n[len(start) :] for n in names if n.endswith(suffix))
            return
        root = Path(self.uri)
        if not root.is_dir():
            return
        yield from sorted(
            str(p.relative_to(root))
            for p in root.rglob("*")
            if p.is_file() and p.name.endswith(suffix)
        )

    def _object(self, relative: str) -> str:
        _, prefix = self._bucket_prefix()
        return f"{prefix}/{relative}" if prefix else relative

    def read(self, relative: str) -> bytes:
        if self.is_gcs:
            return self._bucket().blob(self._object(relative)).download_as_bytes()
        return (Path(self.uri) / relative).read_bytes()

    def write(self, relative: str, data: bytes, content_type: str = "application/json") -> None:
        if self.is_gcs:
            blob = self._bucket().blob(self._object(relative))
            blob.upload_from_string(data, content_type=content_type)
            return
        path = Path(self.uri) / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def delete(self, relative: str) -> None:
        if self.is_gcs:
            self._bucket().blob(self._object(relative)).delete()
            return
        (Path(self.uri) / relative).unlink()

    def url(self, relative: str) -> str:
        return f"{self.uri.rstrip('/')}/{relative}"
