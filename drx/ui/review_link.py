"""The link from any page to one photograph on the Review page, at one spot.

The contract is a set of query parameters on the Review page's URL:

``image``   the photograph's content SHA-256 (64 hex characters): ``Image.content_sha256``
``x``, ``y`` optional: a point in the original photograph's pixels (column, row), integers >= 0
``output``  optional: the model output whose heatmap to show (e.g. ``hard_exudate``)

Pages open a photograph with :func:`open_in_review`; the Review page reads
them back with :func:`read_review_target` and loads the photograph from the
``Image`` row's ``stored_path``.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass

import streamlit as st

REVIEW_PAGE = "views/review.py"
_SHA256 = re.compile(r"[0-9a-f]{64}")


class InvalidReviewLink(ValueError):
    """The query parameters do not describe a photograph and a spot (the message says which one is wrong)."""


@dataclass(frozen=True)
class ReviewTarget:
    """A photograph (by content hash) and, optionally, a spot on it and the output to explain."""

    image_sha256: str
    x: int | None = None
    y: int | None = None
    output: str | None = None

    def query_params(self) -> dict[str, str]:
        """The Review page's query parameters for this target."""
        params = {"image": self.image_sha256}
        if self.x is not None and self.y is not None:
            params |= {"x": str(self.x), "y": str(self.y)}
        if self.output:
            params["output"] = self.output
        return params


def _coordinate(value: str, name: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise InvalidReviewLink(f"{name}={value!r} is not a whole number of pixels") from None
    if number < 0:
        raise InvalidReviewLink(f"{name}={number} is outside the photograph (negative)")
    return number


def read_review_target(query_params: Mapping[str, str]) -> ReviewTarget | None:
    """The target named by a page's query parameters (``st.query_params``), or None when there is no ``image``.

    Raises :class:`InvalidReviewLink` for a malformed hash or coordinates, or
    when only one of ``x`` and ``y`` is given.
    """
    digest = (query_params.get("image") or "").strip().lower()
    if not digest:
        return None
    if not _SHA256.fullmatch(digest):
        raise InvalidReviewLink(f"image={digest[:70]!r} is not a SHA-256 digest (64 hex characters)")
    x, y = query_params.get("x"), query_params.get("y")
    if (x is None) != (y is None):
        raise InvalidReviewLink("a spot needs both x and y")
    return ReviewTarget(
        digest,
        None if x is None else _coordinate(x, "x"),
        None if y is None else _coordinate(y, "y"),
        (query_params.get("output") or "").strip() or None,
    )


def open_in_review(target: ReviewTarget) -> None:
    """Switch to the Review page showing ``target`` (ends this script run)."""
    st.switch_page(REVIEW_PAGE, query_params=target.query_params())
