"""The validation pass over config values: every leaf of the three configs a run uses is
checked before anything is built or written, and a bad one is refused with one line that names
it and says what it may be.

The rules live with what reads the leaves, and `rules_of` collects them for a config:
- config_env: COMMON_RULES below (env_type, env_name, the evaluation leaves the trainer reads)
  and the task record's `leaf_rules` (memrl/tasks.py);
- config_rl: COMMON_RULES (what every algorithm and the trainer read: discount, tau, learning
  rates, replay sizes, ...), a "bool" for each switch (memrl/agents: SWITCHES), and the
  algorithm's `leaf_rules` (its class and the classes it builds on, memrl/agents/);
- config_seq: COMMON_RULES (window, gradient clipping, embedders, the CNN) and the sequence
  model's `leaf_rules` (its class and its bases, memrl/nets/seq/) for the leaves under
  model.seq_model_config.
A leaf is checked against the rule for its name: its last name, or a longer tail where one
name means different things in different places (`observ_embedder.hidden_size` must be >= 1,
`action_embedder.hidden_size` may be 0), or a pattern (`*_lr`). By name, the rules cover every
config file, derived ones too (the *_cnn files and others build on a *_default file with
runpy), and config.json read back on resume, which knows nothing of the file it came from.
tests/test_bad_input.py fails for any leaf of a file in configs/ that has no rule, so a new
leaf gets its rule from its owner when it is added. A leaf without a rule (a config file
outside the repo) still gets the generic rule: numbers must be finite.

Rules are short strings:
    "(0, 1]"            a number in the interval (any of [ ] ( ); inf may be a bound)
    "int >= 1"          an int (True is not one) with a bound; also > <= <
    "int -1 or >= 1"    alternatives
    "bool", "str"       the type alone
    "float or none"     None allowed too (a placeholder: "work it out")
    "any"               checked where it is used (the task checks env_name, for instance)
    "> 0 and <= high"   also bounded by the leaf `high` of the same sub-config
    "(0, 1]; why"       the reason for the bound, said when a value breaks it
Numbers must always be finite. Tuples and lists are checked element by element.

Types: ml_collections keeps a leaf at its default's type (absl parses an override by it; a
ConfigDict refuses another), so for a config file and the command line the rule's type repeats
that check; config.json is also compared with the copy of the settings its checkpoint holds
(memrl/integrity.py).

Also checked here: the memory a run allocates up front (`check_memory`: replay, rollouts, a
batch) against what the machine has, so a length of 10**12 is refused instead of attempted.
"""

from __future__ import annotations

import fnmatch
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml_collections import ConfigDict

# The leaves every config of its kind has, read by the trainer and the parts every run
# shares; the rest are their owners' (above).
COMMON_RULES: dict[str, dict[str, str]] = {
    "config_env": {
        "env_type": "str",  # the task records say which exist
        "env_name": "any",  # the task record checks its variant
        "eval_interval": "int >= 1",
        "eval_episodes": "int >= 1",
    },
    "config_rl": {
        "algo": "str",  # the registry says which exist
        "*_lr": "> 0",
        "hidden_dims": "int >= 1",
        "discount": "(0, 1]",
        "tau": "(0, 1]; 0 would leave the target networks at their first weights for good",
        "init_scheme": "str",  # memrl/nets/init.py checks the name
        "collect_in_train_mode": "bool",
        "replay_buffer_size": "int >= 1",
        "replay_buffer_num_episodes": "int >= 1",
    },
    "config_seq": {
        "sampled_seq_len": "int -1 or >= 1",  # -1: whole episodes
        "clip": "bool",
        "max_norm": "> 0",
        "seq_model_config.name": "str",  # the registry says which exist
        "observ_embedder.name": "str",  # mlp or cnn
        "observ_embedder.hidden_size": "int >= 1",
        "action_embedder.hidden_size": "int >= 0",  # 0 leaves the input out
        "reward_embedder.hidden_size": "int >= 0",
        "channels": "int >= 1",  # the CNN embedder's (configs/vis_models/cnn_default.py)
        "kernel_size": "int >= 1",
        "stride": "int >= 1",
        # the CNN embedder's vector part: entries observed beside the image (MiniGrid's
        # direction, memrl/nets/history.py)
        "vector_hidden_size": "int >= 1",
    },
}
SEQ_MODEL_LEAVES = "model.seq_model_config."  # where config_seq holds the model's own leaves


def declared_rules(cls: type) -> dict[str, str]:
    """The `leaf_rules` of a class and of the classes it builds on (its own win)."""
    rules: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        rules |= vars(klass).get("leaf_rules", {})
    return rules


def rules_of(name: str, config: ConfigDict) -> dict[str, str]:
    """The rules for the leaves of config `name` ("config_env", "config_rl" or "config_seq"):
    the common ones and those of the owner the config names (its task, algorithm or sequence
    model; none where it names no known one)."""
    rules = dict(COMMON_RULES[name])
    if name == "config_env":
        from memrl.tasks import TASKS

        task = TASKS.get(config.get("env_type"))
        rules |= dict(task.leaf_rules) if task else {}
    elif name == "config_rl":
        from memrl.agents import ALGOS, SWITCHES

        rules |= dict.fromkeys(SWITCHES, "bool")
        algo = ALGOS.get(config.get("algo"))
        rules |= declared_rules(algo) if algo else {}
    else:
        from memrl.nets.seq import SEQ_MODELS

        model = _get(config, SEQ_MODEL_LEAVES + "name")
        if model in SEQ_MODELS:
            rules |= {SEQ_MODEL_LEAVES + leaf: rule
                      for leaf, rule in declared_rules(SEQ_MODELS[model].cls).items()}
    return rules


@dataclass(frozen=True)
class Rule:
    text: str
    kind: str  # int, float (any real number), bool, str or any
    tests: tuple[Callable[[float], bool], ...]  # a number passes when one of them holds
    wording: str  # what a value must be, for messages
    none_ok: bool = False
    siblings: tuple[tuple[str, str], ...] = ()  # (operator, leaf) bounds by leaves beside it
    why: str = ""

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
        why = f" ({self.why})" if self.why else ""
        return None if ok else f"must be {self.wording}, got {value!r}{why}"


_KINDS = {"int": "an int", "float": "a number", "bool": "true or false", "str": "a string",
          "any": "anything"}
_INTERVAL = re.compile(r"([\[(])\s*(\S+)\s*,\s*(\S+)\s*([\])])")
_COMPARE = re.compile(r"(>=|<=|>|<)\s*(\S+)")
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": lambda x, b: x >= b, ">": lambda x, b: x > b,
    "<=": lambda x, b: x <= b, "<": lambda x, b: x < b,
}


def parse_rule(text: str) -> Rule:
    rule, _, why = text.partition("; ")
    rule, *bounds = rule.split(" and ")
    siblings = tuple(m.groups() for m in map(_COMPARE.fullmatch, bounds) if m)
    if len(siblings) != len(bounds):
        raise ValueError(f"rule {text!r}: after 'and' comes an operator and a leaf name")
    first, *others = rule.split(" or ")
    kind, _, first = first.partition(" ")
    if kind not in _KINDS:
        kind, first = "float", rule.split(" or ")[0]
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
    return Rule(text, kind, tuple(tests), wording, none_ok, siblings, why)


def rule_for(path: str, rules: Mapping[str, str]) -> Rule | None:
    """The rule `rules` give the leaf at dotted `path` (longest matching tail first, then a
    pattern), or None."""
    parts = path.split(".")
    for i in range(len(parts)):
        if (text := rules.get(".".join(parts[i:]))) is not None:
            return parse_rule(text)
    patterns = (p for p in rules if "*" in p and fnmatch.fnmatchcase(parts[-1], p))
    return parse_rule(rules[pattern]) if (pattern := next(patterns, None)) else None


def leaves(config: ConfigDict, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in config.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, ConfigDict):
            yield from leaves(value, path)
        else:
            yield path, value


def leaf_problem(path: str, value: Any, rules: Mapping[str, str]) -> str | None:
    """Why a config leaf's value is refused, or None. Without a rule: numbers finite."""
    rule = rule_for(path, rules)
    if rule is not None:
        return rule.problem(value)
    numbers = value if isinstance(value, (list, tuple)) else [value]
    if any(_is_number(v) and not math.isfinite(v) for v in numbers):
        return f"must be finite, got {value!r}"
    return None


def check_config(name: str, config: ConfigDict) -> None:
    """Raise ValueError naming the first bad leaf of config `name` (config_env, ...)."""
    rules = rules_of(name, config)
    for path, value in leaves(config):
        if problem := leaf_problem(path, value, rules):
            raise ValueError(f"{name}.{path} {problem}")
    for path, value in leaves(config):
        rule = rule_for(path, rules)
        for op, leaf in rule.siblings if rule else ():
            other = path[: len(path) - len(path.rsplit(".", 1)[-1])] + leaf
            bound = _get(config, other)
            if _is_number(value) and _is_number(bound) and not _OPS[op](value, bound):
                raise ValueError(f"{name}.{path} ({value}) must be {op} {name}.{other} "
                                 f"({bound})")


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
