"""The lesion words under their first module name, for the modules that still import it.

They are defined in :mod:`drcore.vocabulary`; import them from there.
"""

from drcore.vocabulary import ANY_LESION, LESION_LABELS, LESION_TYPES, MODEL_OUTPUTS, OUTPUTS, REFERABLE_DR

__all__ = ["ANY_LESION", "LESION_LABELS", "LESION_TYPES", "MODEL_OUTPUTS", "OUTPUTS", "REFERABLE_DR"]
