"""Draw one episode as an animated GIF: T-Maze as a small grid, the pixel games' boards, a
gymnasium env's own frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from memrl.agents.base import Agent
from memrl.envs.base import BatchedEnv
from memrl.replay import no_action


def episode_frames(env: BatchedEnv, agent: Agent) -> tuple[list[np.ndarray], float]:
    """Play one greedy episode in env copy 0 and return its pictures and its return."""
    obs = env.reset()
    n = env.num_envs
    frames = [env.render(0)]
    prev_action = np.broadcast_to(no_action(env.action_space),
                                  (n, *env.action_space.shape)).copy()
    prev_reward = np.zeros(n, dtype=np.float32)
    state = agent.initial_state(n)
    total = 0.0
    for _ in range(env.max_episode_steps):
        action, state = agent.act(obs, prev_action, prev_reward, state, explore=False)
        obs, reward, terminated, truncated, _ = env.step(action)
        frames.append(env.render(0))
        prev_action, prev_reward = action, reward
        total += float(reward[0])
        if terminated[0] or truncated[0]:
            break
    return frames, total


def save_gif(frames: list[np.ndarray], path: Path, cell_pixels: int = 16,
             frame_ms: int = 120, max_pixels: int = 512) -> Path:
    """Scale each cell to `cell_pixels` (nearest neighbour), or less where the picture would
    be wider or taller than `max_pixels` (a gymnasium env's frames are pictures already, at
    scale 1), and write a looping GIF."""
    scale = max(1, min(cell_pixels, max_pixels // max(frames[0].shape[:2])))
    images = [Image.fromarray(np.kron(frame, np.ones((scale, scale, 1), np.uint8)))
              for frame in frames]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(path, save_all=True, append_images=images[1:], duration=frame_ms, loop=0)
    return path
