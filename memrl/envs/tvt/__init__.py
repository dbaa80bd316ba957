"""DeepMind's TVT gridworlds as the paper uses them: Passive Visual Match and Key-to-Door."""

from memrl.envs.tvt.key_to_door import KeyToDoor
from memrl.envs.tvt.visual_match import VisualMatch

__all__ = ["KeyToDoor", "VisualMatch"]
