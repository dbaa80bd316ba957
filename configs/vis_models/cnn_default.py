"""Pixel observation embedder (paper: conv 8 then 16 channels, 2x2 stride 1, Linear to 100).

Read by the *_cnn sequence configs as their observ_embedder; pixels are scaled by 1/255 in it.
"""

from ml_collections import ConfigDict


def get_config() -> ConfigDict:
    config = ConfigDict()
    config.name = "cnn"
    config.hidden_size = 100  # embedding size: the Linear after the convolutions
    config.channels = (8, 16)  # one conv + ReLU per entry
    config.kernel_size = 2
    config.stride = 1
    # Observations with vector entries beside the image (MiniGrid's direction): one Linear +
    # ReLU to this size, concatenated after the image's embedding. Unused for pixels alone.
    config.vector_hidden_size = 32
    return config
