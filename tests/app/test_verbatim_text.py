"""User text inside Markdown elements reads exactly as typed."""

from streamlit.testing.v1 import AppTest

from drx.ui.text import verbatim


def test_markup_characters_are_escaped_one_by_one() -> None:
    assert verbatim("**bold** <img src=x onerror=alert(1)>") == (
        r"\*\*bold\*\* \<img src=x onerror=alert\(1\)\>")
    assert verbatim("a_b [link](http://x) :red[x] $x$ `c`") == (
        r"a\_b \[link\]\(http\://x\) \:red\[x\] \$x\$ \`c\`")
    assert verbatim("two\nlines") == "two lines"
    assert verbatim(r"back\slash") == r"back\\slash"


def test_a_caption_with_escaped_text_renders_no_html() -> None:
    def page() -> None:
        import streamlit as st

        from drx.ui.text import verbatim

        st.caption("Saved by " + verbatim("<img src=x onerror=alert(1)>"))

    app = AppTest.from_function(page)
    app.run()
    assert not app.exception
    caption = app.caption[0]
    assert caption.value == r"Saved by \<img src=x onerror=alert\(1\)\>"
    assert not caption.proto.allow_html
