"""Screening's decision: refer or not, at the operating point a model card states."""

from drcore.vocabulary import REFERABLE_DR
from drcore.models import ModelCard

REFER = "refer"
NO_REFERABLE_DR = "no referable DR"


def referral(card: ModelCard, probability: float) -> dict:
    """Referable-DR probability, the card's threshold and the decision at it (both None without a threshold)."""
    threshold = card.threshold(REFERABLE_DR)
    decision = None if threshold is None else (REFER if probability >= threshold else NO_REFERABLE_DR)
    return {"probability": probability, "threshold": threshold, "decision": decision}
