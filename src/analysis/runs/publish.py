"""Publishing a run safely: only into folders the kit made, one run per folder, an atomic swap.

A run is built in a staging folder next to its destination and swapped into place only when every step
succeeded, so a failed or killed run never replaces the last good report. A lock file next to the folder
(``.<folder>.lock``, an ``fcntl`` lock the operating system releases when the process dies) makes a second
run of the same folder stop with a clear message.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import errno
import fcntl
import json
import os
import re
import shutil
import signal
import sys
from pathlib import Path

from analysis.errors import RunLocked, UnsafeOutput


class Terminated(BaseException):
    """The pipeline received SIGTERM (raised by the handler :func:`main` installs)."""


RUN_MARKER = ".retention-kit-run"
"""File in every run folder the kit publishes. A run replaces only a folder that holds it (or, from
kit versions before the marker, a ``manifest.json`` with a ``kit_version``), or an empty one."""


def _made_by_kit(folder: Path) -> bool:
    if (folder / RUN_MARKER).is_file():
        return True
    try:
        return "kit_version" in json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return False


def check_output_folder(out: Path, project_dir: Path, inputs: list[Path]) -> None:
    """Refuse an output folder whose replacement could destroy files the kit did not make.

    A run builds its report elsewhere and then replaces ``out`` as a whole, so ``out`` must be
    a new folder, an empty one, or a run folder a previous run of the kit published. Never the
    project folder or a folder containing it, the current folder or one containing it, a folder
    containing an input file, or an existing file.
    """
    out = out.resolve()
    fix = "Choose a new folder for the report, e.g. OUT=reports/my-run (--out)."
    if out.exists() and not out.is_dir():
        raise UnsafeOutput(f"The report folder {out} is an existing file, not a folder; the kit will not replace it. {fix}")
    guarded = [(project_dir.resolve(), "the project folder"), (Path.cwd().resolve(), "the current folder")]
    guarded += [(p.expanduser().resolve().parent, f"the folder of the input file {p}") for p in inputs]
    for place, what in guarded:
        if out == place or out in place.parents:
            where = "is" if out == place else "contains"
            raise UnsafeOutput(f"The report folder {out} {where} {what}; a run replaces its folder as a whole,"
                               f" so it would delete it. {fix}")
    if out.is_dir() and any(out.iterdir()) and not _made_by_kit(out):
        raise UnsafeOutput(f"The report folder {out} already exists and was not made by the kit (it has no"
                           f" {RUN_MARKER}); a run replaces its folder as a whole, so its files would be deleted. {fix}")


_STAGING = re.compile(r"^\.staging-(\d+)-\d+$")


_OLD = re.compile(r"^\.old-(.+)-(\d+)$")


def _pid_alive(pid: int) -> bool:
    """True if a process with this id exists (on this machine)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    try:  # a killed process nobody has reaped yet (a zombie) is dead too
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def lock_path(out: Path) -> Path:
    """The lock file of the report folder ``out``: ``.<name>.lock`` next to it."""
    return out.parent / f".{out.name}.lock"


class FolderLock:
    """Exclusive ``fcntl.flock`` lock on ``lock_path(out)``, released when the process ends.

    The lock file holds the pid and start time of the run holding it, for the message a
    second run shows. The file itself is never deleted (deleting a lock file while
    another process waits on it would let two runs in).
    """

    def __init__(self, out: Path) -> None:
        self.out = out
        self.path = lock_path(out)
        self._fd: int | None = None

    def acquire(self) -> "FolderLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = ""
            with contextlib.suppress(OSError):
                holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            pid, since = (holder.split(" ", 1) + [""])[:2] if holder else ("unknown", "")
            raise RunLocked(
                f"another run is writing {self.out} (pid {pid}{', started ' + since if since else ''}). "
                f"Wait for it to finish, or choose another folder with OUT=... (--out). "
                f"Lock file: {self.path}"
            ) from None
        os.ftruncate(fd, 0)
        stamp = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        os.pwrite(fd, f"{os.getpid()} {stamp}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "FolderLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def clean_stale(reports_root: Path) -> list[str]:
    """Tidy up after runs that were killed (their process no longer exists).

    * ``.staging-<pid>-<time>`` of a dead run: half-built report, removed.
    * ``.old-<name>-<pid>`` of a dead run: the previous report, set aside during the
      final swap. If ``<name>`` is missing (the run died between the two renames), it is
      put back; otherwise it is removed. Done under ``<name>``'s lock, so a live run
      writing that folder is never disturbed.

    Returns a line per action taken, for the console.
    """
    done: list[str] = []
    if not reports_root.is_dir():
        return done
    for entry in sorted(reports_root.iterdir()):
        if not entry.is_dir():
            continue
        staging = _STAGING.match(entry.name)
        if staging and not _pid_alive(int(staging.group(1))):
            shutil.rmtree(entry, ignore_errors=True)
            done.append(f"removed the unfinished folder of an interrupted run: {entry.name}")
            continue
        old = _OLD.match(entry.name)
        if old and not _pid_alive(int(old.group(2))):
            target = reports_root / old.group(1)
            try:
                with FolderLock(target):
                    if target.exists():
                        shutil.rmtree(entry, ignore_errors=True)
                        done.append(f"removed the replaced report left by an interrupted run: {entry.name}")
                    else:
                        os.replace(entry, target)
                        done.append(f"restored {target.name} (a run was interrupted while replacing it)")
            except RunLocked:
                continue
    return done


def _renameat2_exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories (Linux ``renameat2(RENAME_EXCHANGE)``); False if unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        func = libc.renameat2
    except (OSError, AttributeError):
        return False
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    if func(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
        return False  # e.g. a file system without exchange support: fall back
    raise OSError(err, os.strerror(err), str(a))


@contextlib.contextmanager
def _signals_deferred():
    """Hold back SIGINT/SIGTERM/SIGHUP for the few system calls that must not be split."""
    blocked = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def replace_dir(staging: Path, out: Path) -> None:
    """Publish the finished ``staging`` folder as ``out``; the old ``out`` is removed afterwards.

    With an existing ``out`` the two folders are swapped in one atomic step
    (``renameat2(RENAME_EXCHANGE)``): readers see the old or the new report, never a
    missing or half-written one. Where that is not available, the old folder is renamed
    aside, the new one renamed in, and :func:`clean_stale` puts the old one back if the
    process is killed in between. SIGINT/SIGTERM are held back during the renames.
    """
    old = out.with_name(f".old-{out.name}-{os.getpid()}")
    with _signals_deferred():
        if not out.exists():
            os.replace(staging, out)
            return
        if _renameat2_exchange(staging, out):
            os.replace(staging, old)  # staging now holds the previous report
        else:
            os.replace(out, old)
            os.replace(staging, out)
    shutil.rmtree(old, ignore_errors=True)


KEEP_FAILED = 5


def prune_failed(failed: Path) -> int:
    """Remove all but the newest ``KEEP_FAILED`` failed-run folders; returns how many are kept."""
    entries = sorted((p for p in failed.iterdir() if p.is_dir() and _STAGING.match(p.name)),
                     key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for old in entries[KEEP_FAILED:]:
        shutil.rmtree(old, ignore_errors=True)
    return min(len(entries), KEEP_FAILED)
