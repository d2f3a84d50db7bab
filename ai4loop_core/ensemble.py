"""Ensembles: the mean probability of several models over the same AI4Loop anchor features.

An :class:`EnsembleModel` follows the model protocol (``encode``/``score``) so prediction, atlas
builds and evaluation take it like any other model: an anchor's code is its members' codes side by
side, and a pair's probability is the mean of the members' probabilities (members that read the
pair's expression context get it). The ``ensemble`` rows of ``ai4loop benchmark`` average the Keras
recipe and the boosted-context trees; with the boosted trees on the bins alone the mean ranked
pairs better than either member, with the context trees it does not.

A saved ensemble is a JSON card ``{"kind": "ensemble", "members": [model names]}`` that
:func:`ai4loop_core.model.load_model` loads by path; members are loaded by name with it too (a
bare file name found next to the card is that file, as for ``best:<CELL>`` ensembles), so the
card holds no weights itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ai4loop_core.errors import BadInputError


@dataclass
class EnsembleModel:
    """Several models scored as one: codes concatenated, probabilities averaged."""

    members: list[Any]
    name: str = "ensemble"
    card: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.members) < 2:
            raise BadInputError("An ensemble needs at least two member models.")
        scales = {m.input_scale for m in self.members}
        widths = {m.n_features for m in self.members}
        if len(scales) > 1 or len(widths) > 1:
            raise BadInputError(
                f"Ensemble members disagree on their inputs (scales {sorted(scales)}, feature "
                f"widths {sorted(widths)}); combine models that read the same features."
            )
        self.code_sizes = [int(m.code_size) for m in self.members]
        self.code_size = sum(self.code_sizes)
        self.n_features = widths.pop()

    def encode(self, features: np.ndarray) -> np.ndarray:
        """Codes ``(n, sum of member code sizes)``: each member's code, in member order."""
        return np.hstack([np.asarray(m.encode(features), np.float32) for m in self.members])

    def score(
        self,
        left: np.ndarray,
        right: np.ndarray,
        *,
        distance: np.ndarray | None = None,
        context: np.ndarray | None = None,
    ) -> np.ndarray:
        """Mean of the members' pair probabilities ``(n,)``."""
        cuts = np.cumsum(self.code_sizes)[:-1]
        parts = zip(np.split(left, cuts, axis=1), np.split(right, cuts, axis=1), strict=True)
        probs = [
            m.score(a, b, distance=distance, context=context)
            for m, (a, b) in zip(self.members, parts, strict=True)
        ]
        return np.mean(probs, axis=0).astype(np.float32)

    @property
    def uses_context(self) -> bool:
        """Whether any member needs each pair's context."""
        return any(getattr(m, "uses_context", False) for m in self.members)

    @property
    def input_scale(self) -> str:
        """The expression scale every member expects."""
        return str(self.members[0].input_scale)


def ensemble_from_card(
    card: dict[str, Any], *, source: Path | str, name: str | None = None
) -> EnsembleModel:
    """The ensemble of an already-read card; ``source`` names the card in errors."""
    from ai4loop_core.model import load_model

    members = card.get("members")
    if card.get("kind") != "ensemble" or not isinstance(members, list) or len(members) < 2:
        raise BadInputError(
            f'{source}: an ensemble card needs "kind": "ensemble" and "members": a list of at '
            "least two model names."
        )
    beside = Path(source).parent
    members = [load_model(_beside(str(m), beside)) for m in members]
    return EnsembleModel(members, name=name or Path(source).name, card=card)


def _beside(member: str, folder: Path) -> str:
    """A bare file name that exists next to the card is that file; other names stay as given."""
    if "/" in member or ":" in member or not (folder / member).exists():
        return member
    return str(folder / member)
