"""Recurrent PPO, the on-policy baseline (memrl/agents/ppo.py), with CleanRL's defaults
(ppo_atari_lstm.py).

A rollout is --num_envs whole episodes collected at once; update_epochs passes over it in
minibatches of --batch_size episodes follow, then it is thrown away. Give it a rollout of
several episodes, e.g. --num_envs 16 --batch_size 4 (CleanRL: 8 envs, 4 minibatches).
"""

from ml_collections import ConfigDict


def get_config() -> ConfigDict:
    config = ConfigDict()
    config.algo = "ppo"

    config.lr = 2.5e-4  # one Adam for the memory and both heads
    config.adam_eps = 1e-5
    config.config_actor = ConfigDict()
    config.config_actor.hidden_dims = ()  # policy head MLP -> logits; () = one linear layer
    config.config_critic = ConfigDict()
    config.config_critic.hidden_dims = ()  # value head MLP -> V(h); () = one linear layer

    # How the networks start (memrl/nets/init.py): "cleanrl" as CleanRL's PPO (orthogonal dense
    # layers with gain sqrt(2), policy output 0.01, value output 1, zero biases; the LSTM
    # orthogonal), or "fanin", "orthogonal", "torch".
    config.init_scheme = "cleanrl"

    config.discount = 0.99  # gamma
    config.gae_lambda = 0.95
    config.update_epochs = 4  # passes over each rollout
    config.clip_coef = 0.1  # the surrogate's (and the value's) clipping range
    config.norm_adv = True  # normalise advantages over each minibatch's steps
    config.clip_vloss = True  # clip the value's change around the old value
    config.ent_coef = 0.01
    config.vf_coef = 0.5
    config.max_grad_norm = 0.5  # global gradient norm clipping, always on
    return config
