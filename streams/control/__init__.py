"""The control plane: live segment definitions and offers from compacted control topics.

Every worker reads both topics whole, from the beginning, with a group-less reader
(:mod:`streams.control.reader`); :class:`DefinitionsState` folds segment definitions
over the rules file and :class:`OffersState` the offer catalogue; invalid records are
rejected with a :class:`ControlError` and the previous version stays in force.
:func:`register_control_plane` runs it in the Faust worker.
"""

from streams.control.agents import ControlPlaneService, register_control_plane
from streams.control.definitions import DefinitionsState
from streams.control.errors import ControlError
from streams.control.offers import OffersState
from streams.control.plane import CONTROL_RECORDS, ControlPlane
from streams.control.reader import ControlReader, ControlRecord, TopicMissingError

__all__ = [
    "CONTROL_RECORDS",
    "ControlError",
    "ControlPlane",
    "ControlPlaneService",
    "ControlReader",
    "ControlRecord",
    "DefinitionsState",
    "OffersState",
    "TopicMissingError",
    "register_control_plane",
]
