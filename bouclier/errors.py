"""Errors that bouclier reports to people (never a traceback)."""


class BouclierError(Exception):
    """Base class: a message meant for the user."""


class ImageError(BouclierError):
    """An image could not be loaded safely. Names the file and the reason."""

    def __init__(self, source: str, reason: str):
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")

    def __reduce__(self):  # picklable, so a worker process can send it back
        return type(self), (self.source, self.reason)


class FormatError(BouclierError):
    """A fingerprint, bundle or exchange file is malformed or of an unknown version."""


def unexpected(e: BaseException) -> str:
    """The reason reported for a bug met on one file of a batch (the batch goes on)."""
    return f"unexpected error ({type(e).__name__}: {e})"
