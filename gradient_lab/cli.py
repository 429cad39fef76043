"""Command-line plumbing shared by the scripts: flag types, writable directories, exit status 2.

Bad input never produces a traceback: every check here ends in one line on stderr
and exit status 2, before anything is written.
"""

import argparse
import contextlib
import os
import signal
import sys
import tempfile
from pathlib import Path


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose errors are a single line and exit status 2."""

    def error(self, message):
        fail(f"{self.prog}: {message}")


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as Ctrl-C is: what `kill`, `timeout`, batch schedulers and Dask send to stop a process."""

    exit_status = 143  # 128 + SIGTERM, as the shell reports it.


_stop_requested = None  # The exception a stop signal raised, until the run has stopped.
_deferring = 0  # Inside `stops_deferred`: a stop signal is kept, and raised at its end.


def stop_on_signals():
    """From now on Ctrl-C raises `KeyboardInterrupt` and SIGTERM `Terminated` in the main thread, and both are kept.

    Kept, because an exception raised while TensorFlow runs C++ code can be swallowed there;
    `raise_if_stopped` raises it again at the next safe point (the end of an epoch).
    """

    def stop(signal_number, frame):
        global _stop_requested
        _stop_requested = Terminated() if signal_number == signal.SIGTERM else KeyboardInterrupt()
        if not _deferring:
            raise _stop_requested

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)


@contextlib.contextmanager
def stops_deferred():
    """Within the block a stop signal is kept, not raised; it is raised at the block's end.

    For writes that must not stop halfway, such as a record of an event file: Python runs a
    signal's handler between any two steps, and an exception there would leave half a record.
    """
    global _deferring
    before, _deferring = _stop_requested, _deferring + 1
    try:
        yield
    finally:
        _deferring -= 1
    if not _deferring and _stop_requested is not before:  # A signal came during the block.
        raise _stop_requested


def raise_if_stopped():
    """Raises the stop signal's exception again if a signal came and training did not stop."""
    if _stop_requested is not None:
        raise _stop_requested


def fail(message):
    """Prints `error: message` on stderr and exits with status 2."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def _number(convert, minimum, strict, kind, maximum=None, why=""):
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        if value < minimum or (strict and value == minimum):
            relation = ">" if strict else ">="
            raise argparse.ArgumentTypeError(f"must be {relation} {minimum}, got {text}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be <= {maximum}{why}, got {text}")
        return value

    return parse


def positive_int(minimum=1, maximum=None, why=""):
    """Flag type: an integer of at least `minimum` (1 by default) and, if given, at most `maximum` (`why` says why)."""
    return _number(int, minimum, False, "an integer", maximum, why)


def non_negative_int():
    """Flag type: an integer of at least 0."""
    return _number(int, 0, False, "an integer")


def positive_float():
    """Flag type: a number above 0."""
    return _number(float, 0.0, True, "a number")


def non_negative_float():
    """Flag type: a number of at least 0."""
    return _number(float, 0.0, False, "a number")


def fraction():
    """Flag type: a number in [0, 1)."""
    at_least_0 = non_negative_float()

    def parse(text):
        value = at_least_0(text)
        if value >= 1:
            raise argparse.ArgumentTypeError(f"must be < 1, got {text}")
        return value

    return parse


def writable_dir(path):
    """Creates `path` if needed and checks a file can be written in it (exit status 2 if not); returns it as a Path."""
    return writable_dirs(path)[0]


def writable_dirs(*paths):
    """Checks that each directory can be written, creating it; exits with status 2 at the first that cannot.

    Before it exits, it removes the directories it created for the others, so a bad path
    leaves nothing behind.
    """
    created = []
    for path in map(Path, paths):
        missing = [directory for directory in (path, *path.parents) if not directory.exists()]  # Deepest first.
        try:
            path.mkdir(parents=True, exist_ok=True)
            created += missing
            with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
                pass
        except OSError as error:
            for directory in created:
                with contextlib.suppress(OSError):
                    directory.rmdir()  # Only if still empty.
            fail(f"cannot write to directory {str(path)!r}: {error.strerror or error}")
    return [Path(path) for path in paths]


def atomic_write_text(path, text):
    """Writes `text` to `path` through a temporary file, so readers never see half a file."""
    path = Path(path)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False) as handle:
        handle.write(text)
        temporary = handle.name
    os.replace(temporary, path)
    return path
