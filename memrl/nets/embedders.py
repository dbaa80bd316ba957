"""Per-step input embedders: observation (MLP or CNN), previous action, previous reward."""

from __future__ import annotations

import gymnasium as gym
import torch
import torch.nn.functional as F
from torch import nn


def mlp(in_size: int, hidden_dims: tuple[int, ...], out_size: int) -> nn.Sequential:
    """Linear layers with ReLU between them (none after the last): the agents' heads."""
    layers: list[nn.Module] = []
    for size in hidden_dims:
        layers += [nn.Linear(in_size, size), nn.ReLU()]
        in_size = size
    layers.append(nn.Linear(in_size, out_size))
    return nn.Sequential(*layers)


class LinearReLU(nn.Sequential):
    """The paper's vector embedder: one Linear + ReLU."""

    def __init__(self, in_size: int, out_size: int):
        super().__init__(nn.Linear(in_size, out_size), nn.ReLU())


class CNNEmbedder(nn.Module):
    """Pixel embedder: conv 8 (2x2) -> ReLU -> conv 16 (2x2) -> ReLU -> flatten -> Linear.

    Takes flattened uint8 observations (..., C*H*W) and scales them to [0, 1] here, so pixels
    travel as bytes from env to replay to device.
    """

    def __init__(self, image_shape: tuple[int, int, int], out_size: int = 100,
                 channels: tuple[int, ...] = (8, 16), kernel_size: int = 2, stride: int = 1):
        super().__init__()
        self.image_shape = tuple(image_shape)
        convs: list[nn.Module] = []
        in_ch, (_, h, w) = image_shape[0], image_shape
        for ch in channels:
            convs += [nn.Conv2d(in_ch, ch, kernel_size, stride), nn.ReLU()]
            in_ch = ch
            h, w = (h - kernel_size) // stride + 1, (w - kernel_size) // stride + 1
        self.convs = nn.Sequential(*convs, nn.Flatten())
        self.linear = nn.Linear(in_ch * h * w, out_size)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        lead = obs.shape[:-1]
        images = obs.reshape(-1, *self.image_shape).float() / 255.0
        return self.linear(self.convs(images)).reshape(*lead, -1)


class ActionEmbedder(nn.Module):
    """The previous action, Linear + ReLU: a one-hot for a Discrete space (index -1, 'no action
    yet', is all zeros), the action vector itself for a Box (zeros before the first action)."""

    def __init__(self, action_space: gym.Space, out_size: int):
        super().__init__()
        if isinstance(action_space, gym.spaces.Discrete):
            self.num_actions = int(action_space.n)
            in_size = self.num_actions
        elif isinstance(action_space, gym.spaces.Box) and len(action_space.shape) == 1:
            self.num_actions = None
            in_size = action_space.shape[0]
        else:
            raise TypeError(f"unsupported action space {action_space}; memrl embeds Discrete "
                            "and one-dimensional Box actions")
        self.embed = LinearReLU(in_size, out_size)

    def forward(self, actions: torch.Tensor) -> torch.Tensor:
        dtype = self.embed[0].weight.dtype
        if self.num_actions is None:
            return self.embed(actions.to(dtype))
        one_hot = F.one_hot(actions + 1, self.num_actions + 1)[..., 1:]
        return self.embed(one_hot.to(dtype))
