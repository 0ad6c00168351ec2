"""User-provided text (names, notes, file names) inside Markdown-rendered elements, shown verbatim.

Streamlit renders ``st.caption``, ``st.error``, ``st.success``, radio labels
and the like as Markdown (never raw HTML: the app has no
``unsafe_allow_html``). A name such as ``**x**`` or ``<img src=x>`` must
still read exactly as typed, so every character that can start Markdown
emphasis, code, links, HTML, headings, lists, tables, maths or Streamlit's
``:colour[...]`` and ``:emoji:`` directives is backslash-escaped (CommonMark
reads a backslash before ASCII punctuation as that literal character).
"""

import re

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-!|<>~$:&])")


def verbatim(text: str) -> str:
    """``text`` escaped so that Markdown shows it character for character (line breaks become spaces)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(text).splitlines()))
