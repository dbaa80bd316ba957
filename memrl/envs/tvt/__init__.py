"""DeepMind's TVT gridworlds as the paper uses them: Passive Visual Match and Key-to-Door."""

from memrl.envs.tvt.key_to_door import KEY_TO_DOOR, KeyToDoor
from memrl.envs.tvt.visual_match import VISUAL_MATCH, VisualMatch

__all__ = ["KEY_TO_DOOR", "VISUAL_MATCH", "KeyToDoor", "VisualMatch"]
