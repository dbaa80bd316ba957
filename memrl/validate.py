"""The validation pass over config values: every leaf of the three configs a run uses is
checked before anything is built or written, and a bad one is refused with one line that names
it and says what it may be.

A leaf is checked against the rule for its name in LEAF_RULES: its last name, or a longer tail
where one name means different things in different places (`observ_embedder.hidden_size`
must be >= 1, `action_embedder.hidden_size` may be 0), or a pattern (`*_lr`). Keeping the
rules by name in this one table covers every config file, derived ones too (the *_cnn files
and others build on a *_default file with runpy), and config.json read back on resume, which
knows nothing of the file it came from. tests/test_bad_input.py fails for any leaf of a file
in configs/ that no rule names, so a new leaf gets its rule here when it is added. A leaf
without a rule (a config file outside the repo) still gets the generic rule: numbers must be
finite.

Rules are short strings:
    "(0, 1]"            a number in the interval (any of [ ] ( ); inf may be a bound)
    "int >= 1"          an int (True is not one) with a bound; also > <= <
    "int -1 or >= 1"    alternatives
    "bool", "str"       the type alone
    "float or none"     None allowed too (a placeholder: "work it out")
    "any"               checked where it is used (the task checks env_name, for instance)
Numbers must always be finite. Tuples and lists are checked element by element.

Types: ml_collections keeps a leaf at its default's type (absl parses an override by it; a
ConfigDict refuses another), so for a config file and the command line the rule's type repeats
that check; config.json is also compared with the copy of the settings its checkpoint holds
(memrl/integrity.py).

Combinations checked here: ORDERED pairs (a low and a high bound in one sub-config), EXCLUSIVE
switches (--freeze_critic with --freeze_all), and the memory a run allocates up front
(`check_memory`: replay, rollouts, a batch) against what the machine has, so a length of
10**12 is refused instead of attempted.
"""

from __future__ import annotations

import fnmatch
import math
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml_collections import ConfigDict

LEAF_RULES: dict[str, str] = {
    # config_env (env_type and env_name are checked by the task records, memrl/envs/)
    "env_type": "str",
    "env_name": "any",
    "eval_interval": "int >= 1",
    "eval_episodes": "int >= 1",
    "distract_reward": "float",
    "final_reward": "float",
    "apple_reward": "float",
    "respawn_every": "int >= 0",  # 0: eaten apples do not return
    "num_apples": "int >= 0",  # the board checks its own maximum
    "env_id": "str",  # memrl/envs/gym_source.py checks it
    "wrappers": "str",  # module:Callable(key=value, ...); gym_source.py parses them
    "obs_keys": "any",  # Dict keys (str) or Tuple positions (int); checked against the space
    "obs_indices": "int >= 0",  # () keeps every entry
    "max_episode_steps": "int >= 0",  # 0: the env's own time limit
    # config_rl
    "algo": "str",
    "*_lr": "> 0",
    "hidden_dims": "int >= 1",
    "discount": "(0, 1]",
    "tau": "(0, 1]",
    "init_eps": "[0, 1]",
    "schedule_end": ">= 0",
    "temperature": ">= 0",
    "exploration_noise": ">= 0",
    "target_noise": ">= 0",
    "target_noise_clip": ">= 0",
    "policy_delay": "int >= 1",
    "init_temperature": "> 0",
    "target_entropy": "float or none",  # None: -(action dimensions)
    "shared_encoder": "bool",
    "freeze_critic": "bool",
    "freeze_all": "bool",
    "replay_buffer_size": "int >= 1",
    "replay_buffer_num_episodes": "int >= 1",
    # config_seq
    "sampled_seq_len": "int -1 or >= 1",  # -1: whole episodes
    "clip": "bool",
    "max_norm": "> 0",
    "name": "str",  # the registries say which names exist
    "hidden_size": "int >= 1",
    "action_embedder.hidden_size": "int >= 0",  # 0 leaves the input out
    "reward_embedder.hidden_size": "int >= 0",
    "n_layer": "int >= 1",
    "n_head": "int >= 1",
    "pdrop": "[0, 1)",
    "position_encoding": "str",
    "channels": "int >= 1",
    "kernel_size": "int >= 1",
    "stride": "int >= 1",
    "vector_hidden_size": "int >= 1",
    "width": "int >= 1",
    "d_state": "int >= 1",
    "d_conv": "int >= 1",
    "expand": "int >= 1",
    "memory_size": "int >= 1",
    "context_size": "int >= 1",
    "r_min": "[0, 1)",
    "r_max": "(0, 1)",
    "max_phase": "> 0",
    "min_period": "> 0",
    "max_period": "> 0",
}

# (low, high): leaves of one sub-config that bound a range, so low <= high.
ORDERED = (("r_min", "r_max"), ("min_period", "max_period"))

# Why a rule's bound is where it is, where the bound alone does not say (added to the message).
WHY = {"tau": "0 would leave the target networks at their initial weights for good"}

# Switches of one sub-config that are not to be set together, and why.
EXCLUSIVE = (
    ("freeze_critic", "freeze_all",
     "--freeze_all implies --freeze_critic (the actor loss sees constant Q values either way) "
     "and also detaches the shared memory from it; give only the one you mean"),
)


@dataclass(frozen=True)
class Rule:
    text: str
    kind: str  # int, float (any real number), bool, str or any
    tests: tuple[Callable[[float], bool], ...]  # a number passes when one of them holds
    wording: str  # what a value must be, for messages
    none_ok: bool = False

    def problem(self, value: Any) -> str | None:
        """Why `value` breaks the rule, or None. Lists and tuples: each element."""
        if isinstance(value, (list, tuple)):
            bad = any(self.problem(v) for v in value)
            return f"must hold only values that are {self.wording}, got {value!r}" if bad \
                else None
        if self.kind == "any" or (value is None and self.none_ok):
            return None
        if self.kind in ("bool", "str"):
            ok = isinstance(value, bool if self.kind == "bool" else str)
        else:
            ok = _is_number(value) and (self.kind == "float" or isinstance(value, int))
            ok = ok and math.isfinite(value) and (not self.tests or any(t(value)
                                                                        for t in self.tests))
        return None if ok else f"must be {self.wording}, got {value!r}"


_KINDS = {"int": "an int", "float": "a number", "bool": "true or false", "str": "a string",
          "any": "anything"}
_INTERVAL = re.compile(r"([\[(])\s*(\S+)\s*,\s*(\S+)\s*([\])])")
_COMPARE = re.compile(r"(>=|<=|>|<)\s*(\S+)")
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": lambda x, b: x >= b, ">": lambda x, b: x > b,
    "<=": lambda x, b: x <= b, "<": lambda x, b: x < b,
}


def parse_rule(text: str) -> Rule:
    first, *others = text.split(" or ")
    kind, _, first = first.partition(" ")
    if kind not in _KINDS:
        kind, first = "float", text.split(" or ")[0]
    parts = [p.strip() for p in (first, *others) if p.strip()]
    none_ok = "none" in parts
    parts = [p for p in parts if p != "none"]
    tests = []
    for part in parts:
        if m := _INTERVAL.fullmatch(part):
            lo, hi = float(m[2]), float(m[3])
            low = _OPS[">=" if m[1] == "[" else ">"]
            high = _OPS["<=" if m[4] == "]" else "<"]
            tests.append(lambda x, lo=lo, hi=hi, low=low, high=high: low(x, lo) and high(x, hi))
        elif m := _COMPARE.fullmatch(part):
            tests.append(lambda x, op=_OPS[m[1]], b=float(m[2]): op(x, b))
        else:
            tests.append(lambda x, v=float(part): x == v)
    where = " or ".join(f"in {p}" if p[0] in "[(" else p for p in parts)
    finite = " (finite)" if kind == "float" and not parts else ""
    joint = ": " if where[:1].isdigit() or where[:1] == "-" else " "  # "an int: -1 or >= 1"
    wording = f"{_KINDS[kind]}{finite}{joint}{where}".rstrip(": ") + (" or None" * none_ok)
    return Rule(text, kind, tuple(tests), wording, none_ok)


def rule_for(path: str) -> Rule | None:
    """The rule LEAF_RULES gives the leaf at dotted `path` (longest matching tail first), or
    None."""
    parts = path.split(".")
    for i in range(len(parts)):
        if (text := LEAF_RULES.get(".".join(parts[i:]))) is not None:
            return parse_rule(text)
    patterns = (p for p in LEAF_RULES if "*" in p and fnmatch.fnmatchcase(parts[-1], p))
    return parse_rule(LEAF_RULES[pattern]) if (pattern := next(patterns, None)) else None


def leaves(config: ConfigDict, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in config.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, ConfigDict):
            yield from leaves(value, path)
        else:
            yield path, value


def leaf_problem(path: str, value: Any) -> str | None:
    """Why a config leaf's value is refused, or None. Without a rule: numbers finite."""
    rule = rule_for(path)
    if rule is not None:
        problem = rule.problem(value)
        why = WHY.get(path.rsplit(".", 1)[-1])
        return f"{problem} ({why})" if problem and why else problem
    numbers = value if isinstance(value, (list, tuple)) else [value]
    if any(_is_number(v) and not math.isfinite(v) for v in numbers):
        return f"must be finite, got {value!r}"
    return None


def check_config(name: str, config: ConfigDict) -> None:
    """Raise ValueError naming the first bad leaf of config `name` (config_env, ...)."""
    for path, value in leaves(config):
        if problem := leaf_problem(path, value):
            raise ValueError(f"{name}.{path} {problem}")
    for low, high in ORDERED:
        for path, value in leaves(config):
            if path.rsplit(".", 1)[-1] != low:
                continue
            other = path[: -len(low)] + high
            bound = _get(config, other)
            if _is_number(value) and _is_number(bound) and value > bound:
                raise ValueError(f"{name}.{path} ({value}) must be <= {name}.{other} ({bound})")
    for first, second, why in EXCLUSIVE:
        if _get(config, first) is True and _get(config, second) is True:
            raise ValueError(f"{name}.{first} and {name}.{second} are both set "
                             f"(--{first} --{second}): {why}")


def _get(config: ConfigDict, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(config, ConfigDict) or key not in config:
            return None
        config = config[key]
    return config


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ---- memory ----------------------------------------------------------------------------------

def memory_limit() -> int | None:
    """Bytes of memory this process may use: the machine's, or its cgroup's limit if lower
    (None where the platform does not say)."""
    try:
        limit = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None
    try:
        cgroup = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if cgroup.isdigit():
            limit = min(limit, int(cgroup))
    except OSError:
        pass
    return limit


def gib(n: float) -> str:
    return f"{n / 2**30:.3g} GiB"


def check_memory(needs: dict[str, int], fix: str) -> None:
    """Refuse when the parts in `needs` (what -> bytes) add up to more memory than there is."""
    limit = memory_limit()
    total = sum(needs.values())
    if limit is not None and total > limit:
        parts = "; ".join(f"{what}: {gib(n)}" for what, n in needs.items())
        raise ValueError(f"this needs {gib(total)} of memory, more than the {gib(limit)} "
                         f"here ({parts}); {fix}")
