"""The Review page's headline: the referable-DR score and the decision at the model's operating point."""

import math

import streamlit as st

from drcore.vocabulary import REFERABLE_DR
from drcore.models import ModelCard
from drcore.referral import REFER, referral


def decimals(threshold: float) -> int:
    """Decimals that keep ``threshold`` apart from 0 and 1 (0.9988 -> 4): at two, a threshold near 1 reads 1.00."""
    margin = min(threshold, 1 - threshold)
    return 2 if margin >= 0.01 else min(6, math.ceil(-math.log10(max(margin, 1e-6))) + 1)


def referral_text(card: ModelCard, probability: float) -> tuple[str, str]:
    """(headline, explanation) in Streamlit Markdown for a referable-DR probability under ``card``'s operating point."""
    verdict = referral(card, probability)
    if verdict["decision"] is None:
        return (f"Referable DR score **{probability:.2f}**",
                "The model card states no operating point, so no decision is shown.")
    point = card.operating_points[REFERABLE_DR]
    verdict_text = (":red[**:material/report: Refer**]" if verdict["decision"] == REFER
                    else ":green[**:material/check_circle: No referable DR**]")
    digits = decimals(verdict["threshold"])
    headline = (f"{verdict_text} · referable DR score **{probability:.{digits}f}** "
                f"(threshold {verdict['threshold']:.{digits}f})")
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
