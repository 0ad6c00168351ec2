"""Typed errors raised by drcore. Pages turn each into one clear message."""


class DrxError(Exception):
    """Base class of every error drcore raises on purpose."""


class BadImage(DrxError):
    """The input cannot be used as a fundus photograph."""


class NotAnImage(BadImage):
    """The bytes are not an image in a supported format (JPEG, PNG, TIFF)."""


class TruncatedImage(BadImage):
    """The file is an image but its data ends early or is corrupt."""


class ImageTooSmall(BadImage):
    """The image is smaller than the minimum usable size."""


class ImageTooLarge(BadImage):
    """The image has more pixels than allowed (decompression-bomb guard)."""


class NoFundusFound(BadImage):
    """No circular field of view of a retina could be found in the image."""


class CheckpointError(DrxError):
    """A model checkpoint is missing, unreadable, or does not match its card."""


class UnknownName(DrxError, KeyError):
    """A registry was asked for a name it does not hold."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DatasetIncomplete(DrxError):
    """A data-set folder lacks files its layout requires, or is not that data set at all."""


class BadAnnotation(DrxError):
    """An annotation file (XML, mask) is malformed, unsafe, or does not fit its image."""


class UnsupportedModel(DrxError, ValueError):
    """A heatmap method cannot handle a layer of this model (e.g. no LRP rule covers it)."""


class DiscoveryError(DrxError):
    """A discovery run cannot go on: wrong parameters, a run folder made by another run, no hot spots."""
