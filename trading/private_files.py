"""Secrets the system makes for itself (the secret key, the demo password, the
simulator's private key, the SQLite database): created readable by their owner
only, in a folder only the owner can enter.

The mode is given to ``os.open`` when the file is created, never set by a
``chmod`` after the content is written: in between, another local user could
open the file and keep the descriptor. The content is written to a private
temporary file and linked into place, so a second process starting at the same
moment either finds the complete file or makes it, never a half-written one.
"""

import os
import secrets
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) with the folder itself 0700; an existing folder is left as it is."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)


def create_private_file(path: Path, content: bytes) -> bool:
    """Create ``path`` 0600 holding ``content``; False (and nothing written) when it already exists."""
    if path.exists():
        return False
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.link(temporary, path)
    except FileExistsError:
        return False
    finally:
        temporary.unlink(missing_ok=True)
    return True
