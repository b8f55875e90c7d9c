"""What ``ninestep`` promises about the files it writes (docs/cli.md says the same).

* **Atomic.** Every file goes through :mod:`ninestep.archive`: a temporary
  file in the same folder, fsync, ``os.replace``. A reader sees the old
  file or the new one, never half of one. A symbolic link at the target is
  replaced by the new file, never followed; a new file gets the umask's
  permissions, a replaced one keeps its mode.
* **Strict JSON.** NaN and infinity have no JSON spelling; a number that is
  not finite (a metric of a degenerate test set, say) is written as
  ``null``, never as ``NaN``/``Infinity``.
* **One run per folder.** :class:`RunLock` holds ``DIR/.lock`` for the
  whole run; a second run into the folder is refused, naming the process
  that holds it. The lock is an advisory ``flock`` on the file, which the
  kernel drops when its process dies, so a lock left by a killed run is
  simply taken over (the file's PID is only for the message).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import socket
import time
from pathlib import Path
from typing import Any, Iterable

from ..archive import atomic_write_bytes, atomic_write_json
from ._common import finite_json, json_default

__all__ = ["RunLock", "RunLockedError", "write_json", "write_csv", "LOCK_NAME"]

LOCK_NAME = ".lock"


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """``obj`` as strict, indented JSON at ``path``, atomically (non-finite numbers become null)."""
    return atomic_write_json(path, finite_json(obj), default=json_default)


def write_csv(path: str | os.PathLike, header: list[str], rows: Iterable[list]) -> Path:
    """A CSV file with a header row, atomically."""
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(rows)
    return atomic_write_bytes(path, text.getvalue().encode("utf-8"))


class RunLockedError(OSError):
    """Another run holds the output folder (exit code 1, one line, like any file that cannot be used)."""


class RunLock:
    """``DIR/.lock``, held from before the first file of a run is touched until the run ends.

    Use as a context manager::

        with RunLock(out_dir):
            ...  # write into out_dir

    ``fcntl.flock`` (POSIX) makes the lock: exclusive, non-blocking, and
    released by the kernel when the holder dies, so no PID can be mistaken
    for a live run after a reboot or PID reuse. The file holds the holder's
    PID, host and start time, for the message a second run prints. Where
    ``fcntl`` is missing (Windows), the file is created with
    ``O_CREAT | O_EXCL`` and a lock whose PID is no longer alive on this host
    is taken over.
    """

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self._fd: int | None = None

    def _holder(self) -> str:
        # The holder writes its PID right after it takes the lock: a second run that arrives in between
        # finds the file empty for a moment, so it looks again a few times before giving up on a name.
        for _ in range(50):
            try:
                info = json.loads(self.path.read_text(encoding="utf-8"))
                return f"process {info['pid']} on {info['host']} (started {info['started']})"
            except (OSError, ValueError, KeyError, TypeError):
                time.sleep(0.01)
        return "another process"

    def _refuse(self):
        return RunLockedError(f"{self.folder} is in use by another ninestep run: {self._holder()}. Wait for it to "
                              f"finish, or use another --out folder. (If no such run exists, remove {self.path}.)")

    def _stamp(self, fd: int) -> None:
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        os.ftruncate(fd, 0)
        os.write(fd, (json.dumps(info) + "\n").encode("utf-8"))
        os.fsync(fd)

    def acquire(self) -> "RunLock":
        """Take the lock (creating the folder if needed), or raise :class:`RunLockedError`."""
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return self._acquire_exclusive()
        for _ in range(10):
            # O_NOFOLLOW: a link planted at .lock cannot make us open (and truncate) another file.
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise self._refuse() from None
            # The holder before us may have removed the file between our open and our flock;
            # then we hold a lock on a file nobody else can see, so start again.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path, follow_symlinks=False))
            except FileNotFoundError:
                same = False
            if same:
                self._stamp(fd)
                self._fd = fd
                return self
            os.close(fd)
        raise self._refuse()

    def _acquire_exclusive(self) -> "RunLock":  # pragma: no cover - Windows
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                if not self._stale():
                    raise self._refuse() from None
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path)
                continue
            self._stamp(fd)
            self._fd = fd
            return self
        raise self._refuse()

    def _stale(self) -> bool:  # pragma: no cover - Windows
        try:
            info = json.loads(self.path.read_text(encoding="utf-8"))
            if info["host"] != socket.gethostname():
                return False
            os.kill(int(info["pid"]), 0)
        except ProcessLookupError:
            return True
        except (OSError, ValueError, KeyError, TypeError):
            return False
        return False

    def release(self) -> None:
        """Remove the lock file and drop the lock (in that order, so no one locks a file we then remove)."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
