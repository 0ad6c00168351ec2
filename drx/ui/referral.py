"""The Review page's headline: the referable-DR score and the decision at the model's operating point."""

import streamlit as st

from drcore.vocabulary import REFERABLE_DR
from drcore.models import ModelCard
from drcore.referral import REFER, referral


def referral_text(card: ModelCard, probability: float) -> tuple[str, str]:
    """(headline, explanation) in Streamlit Markdown for a referable-DR probability under ``card``'s operating point."""
    verdict = referral(card, probability)
    if verdict["decision"] is None:
        return (f"Referable DR score **{probability:.2f}**",
                "The model card states no operating point, so no decision is shown.")
    point = card.operating_points[REFERABLE_DR]
    verdict_text = (":red[**:material/report: Refer**]" if verdict["decision"] == REFER
                    else ":green[**:material/check_circle: No referable DR**]")
    headline = f"{verdict_text} · referable DR score **{probability:.2f}** (threshold {verdict['threshold']:.2f})"
    explanation = (f"Operating point: {point['target_sensitivity']:.0%} sensitivity, chosen on "
                   f"{point['chosen_on']} ({point['positives']} referable, {point['negatives']} not; "
                   f"specificity there {point['specificity']:.0%}). A screening aid, not a diagnosis.")
    return headline, explanation


def referral_banner(card: ModelCard, probability: float) -> None:
    """Draw the headline in a bordered box, the explanation below it (a decision, not an error message)."""
    headline, explanation = referral_text(card, probability)
    with st.container(border=True):
        st.markdown(f"#### {headline}")
        st.caption(explanation)
