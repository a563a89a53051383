"""The partition engine: batch in, outputs out, with deterministic ids."""

from models.engine.batch import BatchOutput, InputRecord
from models.engine.engine import Engine
from models.engine.schedule import Schedule

__all__ = ["BatchOutput", "Engine", "InputRecord", "Schedule"]
