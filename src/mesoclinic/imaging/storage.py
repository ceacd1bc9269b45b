"""The encrypted media store: photos at rest are AES-GCM blobs under ``settings.media_path``.

Each file is encrypted with the ``photos`` key derived from the application secret, with its own
storage key as associated data, so a file swapped for another one fails to decrypt. Files are
written atomically (temporary file, fsync, rename, fsync of the directory) with mode 0600.
S3-compatible storage can replace this class behind the same three methods.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from pathlib import Path

from mesoclinic import crypto
from mesoclinic.settings import Settings

_KEY = re.compile(r"^[0-9a-f]{32}(\.[a-z]+)?$")
DISPLAY_SUFFIX = ".display"


def new_storage_key() -> str:
    return secrets.token_hex(16)


class MediaStore:
    def __init__(self, root: Path, key: bytes) -> None:
        self.root = root
        self._key = key

    def path(self, storage_key: str) -> Path:
        if not _KEY.fullmatch(storage_key):  # never a path from outside: no traversal
            raise ValueError("malformed storage key")
        return self.root / storage_key[:2] / storage_key

    def put(self, storage_key: str, plaintext: bytes) -> None:
        target = self.path(storage_key)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        blob = crypto.encrypt(self._key, plaintext, storage_key.encode())
        temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(blob)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def get(self, storage_key: str) -> bytes:
        """The plaintext; ``cryptography.exceptions.InvalidTag`` if the file was altered or swapped."""
        return crypto.decrypt(self._key, self.path(storage_key).read_bytes(), storage_key.encode())

    def delete(self, storage_key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(storage_key).unlink()


def media_store(settings: Settings) -> MediaStore:
    return MediaStore(settings.media_path, crypto.derive_key(settings.secret, "photos"))
