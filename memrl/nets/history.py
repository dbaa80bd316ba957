"""The memory of an agent: embed each step's (a_{t-1}, r_{t-1}, o_t) and run a sequence model."""

from __future__ import annotations

import math

import gymnasium as gym
import torch
from ml_collections import ConfigDict
from torch import nn

from memrl.nets.embedders import ActionEmbedder, CNNEmbedder, LinearReLU
from memrl.nets.init import init_embedders
from memrl.nets.seq import build_seq_model
from memrl.nets.seq.base import State


class HistoryEncoder(nn.Module):
    """Maps histories to hidden states: (obs, prev_actions, prev_rewards) (T, B, ...) -> (T, B, H).

    `model_cfg` is config_seq.model; `image_shape` is set for pixel tasks (then the observation
    embedder must be a CNN). An observation longer than the image holds vector entries after
    the image bytes (a Dict of an image and more, envs/obs_layout.py): those get their own
    Linear + ReLU of `observ_embedder.vector_hidden_size`, concatenated after the CNN's.
    """

    def __init__(
        self,
        model_cfg: ConfigDict,
        obs_size: int,
        action_space: gym.Space,
        max_seq_len: int,
        image_shape: tuple[int, int, int] | None = None,
    ):
        super().__init__()
        obs_cfg = model_cfg.observ_embedder
        self.vector_embedder: LinearReLU | None = None
        if obs_cfg.name == "cnn":
            if image_shape is None:
                raise ValueError(
                    "a CNN observation embedder needs a pixel task; use an *_default seq config "
                    "for vector tasks"
                )
            self.obs_embedder = CNNEmbedder(
                image_shape, obs_cfg.hidden_size, tuple(obs_cfg.channels),
                obs_cfg.kernel_size, obs_cfg.stride,
            )
            self.image_size = math.prod(image_shape)
            vector_size = obs_size - self.image_size
            if vector_size:
                if not obs_cfg.get("vector_hidden_size"):
                    raise ValueError(
                        "the task observes vector entries beside its image; set "
                        "config_seq.model.observ_embedder.vector_hidden_size (as the *_cnn "
                        "configs do) to embed them")
                self.vector_embedder = LinearReLU(vector_size, obs_cfg.vector_hidden_size)
        elif obs_cfg.name == "mlp":
            if image_shape is not None:
                raise ValueError(
                    f"the task observes images {tuple(image_shape)}; an MLP embedder would read "
                    "raw bytes: use a *_cnn seq config (e.g. configs/seq_models/lstm_cnn.py)"
                )
            self.obs_embedder = LinearReLU(obs_size, obs_cfg.hidden_size)
        else:
            raise ValueError(
                f"unknown observ_embedder.name {obs_cfg.name!r}; choose 'mlp' or 'cnn'"
            )
        action_size = model_cfg.action_embedder.hidden_size
        reward_size = model_cfg.reward_embedder.hidden_size
        self.action_embedder = ActionEmbedder(action_space, action_size) if action_size else None
        self.reward_embedder = LinearReLU(1, reward_size) if reward_size else None
        input_size = obs_cfg.hidden_size + action_size + reward_size
        if self.vector_embedder is not None:
            input_size += obs_cfg.vector_hidden_size
        self.seq_model = build_seq_model(model_cfg.seq_model_config, input_size, max_seq_len)
        self.hidden_size = self.seq_model.hidden_size

    def embed(
        self, obs: torch.Tensor, prev_actions: torch.Tensor, prev_rewards: torch.Tensor
    ) -> torch.Tensor:
        # Pixels stay uint8 until the CNN scales them; vector observations are cast here.
        if self.vector_embedder is not None:  # image bytes, then vector entries (float32)
            parts = [self.obs_embedder(obs[..., :self.image_size]),
                     self.vector_embedder(obs[..., self.image_size:])]
        else:
            parts = [self.obs_embedder(obs if self._is_cnn else obs.float())]
        if self.action_embedder is not None:
            parts.append(self.action_embedder(prev_actions))
        if self.reward_embedder is not None:
            parts.append(self.reward_embedder(prev_rewards.unsqueeze(-1)))
        return torch.cat(parts, dim=-1)

    def initialise(self, scheme: str) -> None:
        """Start as config_rl.init_scheme says (memrl/nets/init.py): the embedders here (the
        vector part's beside an image too, by the observation embedder's rule), the sequence
        model by its own rule."""
        embedders = [self.obs_embedder, self.vector_embedder, self.action_embedder,
                     self.reward_embedder]
        init_embedders([m for m in embedders if m is not None], scheme)
        self.seq_model.initialise(scheme)

    @property
    def _is_cnn(self) -> bool:
        return isinstance(self.obs_embedder, CNNEmbedder)

    def forward(
        self, obs: torch.Tensor, prev_actions: torch.Tensor, prev_rewards: torch.Tensor
    ) -> torch.Tensor:
        return self.seq_model(self.embed(obs, prev_actions, prev_rewards))[0]

    def initial_state(self, batch_size: int, device: torch.device | str) -> State:
        return self.seq_model.initial_state(batch_size, device)

    def step(
        self,
        obs: torch.Tensor,
        prev_actions: torch.Tensor,
        prev_rewards: torch.Tensor,
        state: State,
    ) -> tuple[torch.Tensor, State]:
        return self.seq_model.step(self.embed(obs, prev_actions, prev_rewards), state)
