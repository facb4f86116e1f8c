"""What the papers claim, as data: one YAML file per study in ``grokrepro/claims/``.

Each entry is one statement of a paper that a numbers table compares against::

    - id: kernel_phase_test_acc          # unique within the study; code cites it by this id
      figure: "1a"                       # the figure rule whose numbers table measures it
      quantity: test_acc_kernel_phase    # the numbers-table quantity; * matches any text: "tau[*]"
      paper: 0.998                       # the paper's value, or its qualitative claim in words
      words: Test accuracy in the kernel phase is about 99.8 %.
      where: Fig. 1a                     # figure / section / equation of the paper
      verdict: against our theory (max-L2 classifier), |measured-theory| <= 0.05  # the rule

Figure code takes the paper's value from here (:func:`paper`), never as a literal; the scorecard
and the tests join numbers rows with claims by (study, figure, quantity).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

CLAIMS_DIR = Path(__file__).with_name("claims")
STUDIES = ("metastable", "dichotomy", "ridge")
FIELDS = ("id", "figure", "quantity", "paper", "words", "where", "verdict")


@dataclass(frozen=True)
class Claim:
    study: str
    id: str
    figure: str
    quantity: str
    paper: float | str
    words: str
    where: str
    verdict: str

    def matches(self, figure: str, quantity: str) -> bool:
        """True if a numbers row of ``figure`` named ``quantity`` measures this claim (in the
        claim's quantity pattern ``*`` matches any text; brackets are literal)."""
        pattern = re.escape(self.quantity).replace(r"\*", ".*")
        return str(figure) == self.figure and re.fullmatch(pattern, quantity) is not None


class ClaimError(KeyError):
    pass


@lru_cache(maxsize=None)
def load(study: str) -> dict[str, Claim]:
    """The claims of one study, by id (validated: every field present, ids unique)."""
    path = CLAIMS_DIR / f"{study}.yaml"
    entries = yaml.safe_load(path.read_text()) or []
    out: dict[str, Claim] = {}
    for i, e in enumerate(entries):
        missing = [f for f in FIELDS if f not in e]
        extra = sorted(set(e) - set(FIELDS))
        if missing or extra:
            raise ClaimError(f"{path.name} entry {i}: missing {missing}, unknown {extra}")
        if e["id"] in out:
            raise ClaimError(f"{path.name}: duplicate claim id {e['id']!r}")
        out[e["id"]] = Claim(study=study, **{k: (str(e[k]) if k != "paper" else e[k]) for k in FIELDS})
    return out


def get(study: str, claim_id: str) -> Claim:
    try:
        return load(study)[claim_id]
    except KeyError:
        raise ClaimError(f"no claim {claim_id!r} in claims/{study}.yaml") from None


def paper(study: str, claim_id: str) -> float | str:
    """The paper's value of one claim (what a numbers row puts in its ``paper`` column)."""
    return get(study, claim_id).paper


def match(study: str, figure: str, quantity: str) -> Claim | None:
    """The claim a numbers row of ``figure`` named ``quantity`` measures, if any."""
    hits = [c for c in load(study).values() if c.matches(figure, quantity)]
    if len(hits) > 1:
        raise ClaimError(f"{study} fig {figure} {quantity!r} matches several claims: {[c.id for c in hits]}")
    return hits[0] if hits else None


__all__ = ["Claim", "ClaimError", "load", "get", "paper", "match", "STUDIES"]
