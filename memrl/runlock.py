"""One writer per run folder.

`memrl train` (a new run or --resume) holds an exclusive lock on <run_dir>/.lock from before
its first write until it ends, so a second train or resume of the same run (a resume typed
while the run still trains, two sweeps sharing an --out) is refused with one line instead of
both appending to progress.csv. The lock is an flock(2) on the file: the kernel drops it when
its process dies in any way, SIGKILL included, so a lock file left by a killed run is stale by
construction; the next writer takes it over and says whose it was. The file holds the holder's
pid, host and start time for those messages.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from pathlib import Path
from typing import IO

from memrl.files import writing

LOCK_FILE = ".lock"


class RunBusyError(ValueError):
    """Another live process is writing the run."""


class RunLock:
    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_FILE
        self._file: IO[str] | None = None

    def acquire(self) -> str | None:
        """Take the lock, or raise RunBusyError naming its holder. Returns the record of a
        stale lock taken over (a process that was killed), else None."""
        while True:
            with writing(self.path):  # a read-only run folder
                f = open(self.path, "a+")
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.seek(0)
                holder = f.read().strip() or "another process"
                f.close()
                raise RunBusyError(f"{self.run_dir} is being written by {holder}; wait for "
                                   "it to end (or stop it) before training or resuming "
                                   "this run") from None
            # A holder that was releasing may have removed the file between our open and our
            # lock: then we hold a lock on a name that no longer exists, so try again.
            try:
                same = os.stat(self.path).st_ino == os.fstat(f.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            f.close()
        f.seek(0)
        stale = f.read().strip() or None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()} on {socket.gethostname()} since "
                f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        f.flush()
        self._file = f
        return stale

    def release(self) -> None:
        """Remove the lock file and drop the lock (removing first, while still holding it, so
        no other process can be left locking a file that is about to go)."""
        if self._file is None:
            return
        self.path.unlink(missing_ok=True)
        self._file.close()
        self._file = None
