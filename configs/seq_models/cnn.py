"""What the *_cnn configs change in their *_default config: pixels in, nothing else.

The observation embedder is the CNN of configs/vis_models/cnn_default.py, and the action and
reward inputs are off (REFERENCE section 4). Loaded by path, so it works from any folder.
"""

import runpy
from pathlib import Path

from ml_collections import ConfigDict

HERE = Path(__file__).resolve().parent
CNN_CONFIG = HERE.parent / "vis_models" / "cnn_default.py"


def pixel_config(default_name: str) -> ConfigDict:
    """configs/seq_models/<default_name>.py with the CNN embedder and no action/reward input."""
    config = runpy.run_path(str(HERE / f"{default_name}.py"))["get_config"]()
    config.model.observ_embedder = runpy.run_path(str(CNN_CONFIG))["get_config"]()
    config.model.action_embedder.hidden_size = 0
    config.model.reward_embedder.hidden_size = 0
    return config
