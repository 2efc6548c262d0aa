"""Seed name of the correction learner: `from ai.training import TrainingDataStore, IncrementalLearner`.

The code lives in ai.learning; this module keeps the seed document's imports working.
"""

from ai.learning.learner import IncrementalLearner
from ai.learning.records import CorrectionRecord
from ai.learning.store import TrainingDataStore

__all__ = ["CorrectionRecord", "IncrementalLearner", "TrainingDataStore"]
