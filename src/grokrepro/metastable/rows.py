"""What Study A's numbers rows share: the paper's claims (``grokrepro/claims/metastable.yaml``)."""
from __future__ import annotations

from .. import claims

STUDY = "metastable"


def paper(claim_id: str, figure: str, quantity: str):
    """The paper's value of claim ``claim_id`` for the numbers row (``figure``, ``quantity``), or None
    if the claim does not cover that row (e.g. a config whose features are not the paper's)."""
    claim = claims.get(STUDY, claim_id)
    return claim.paper if claim.matches(figure, quantity) else None


def value_and_error(stated) -> tuple[float, float]:
    """A claim stated as ``"value ± error"``: (value, error)."""
    value, err = str(stated).split("±")
    return float(value), float(err)
