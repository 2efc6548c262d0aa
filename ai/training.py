"""Seed name of the correction learner: `from ai.training import TrainingDataStore, IncrementalLearner`.

The code lives in ai.learning; this module keeps the seed document's imports working.
"""

from ai.learning.learner import IncrementalLearner
from ai.learning.store import CorrectionRecord, TrainingDataStore

__all__ = ["CorrectionRecord", "IncrementalLearner", "TrainingDataStore"]
