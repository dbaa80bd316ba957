"""Where a gymnasium task's env comes from: `config_env.env_id` and `config_env.wrappers`.

`env_id` takes what `gymnasium.make` takes, and a class:
- a registered id: `CartPole-v1`, `memrl/HopperBLT-V-v0`; ids of the packages in
  KNOWN_PACKAGES (POPGym's `popgym-...`, MiniGrid's `MiniGrid-...`) import their package first;
- `module:env_id`: the module is imported first (it registers the id), as gymnasium.make does:
  `popgym:popgym-RepeatPreviousEasy-v0`, `my_envs:MyTask-v0`;
- `module:Callable`: a class (or function) of the module that returns the env:
  `my_envs:MyTask`.
`wrappers` is a list of `module:Callable`, each called as `Callable(env, **kwargs)` in order,
with optional literal keyword arguments: `minigrid.wrappers:ImgObsWrapper`,
`minigrid.wrappers:ViewSizeWrapper(agent_view_size=5)`.

Modules are imported from the installed packages and from the folder memrl runs in. Because
config.json keeps these strings, `memrl eval`, `memrl train --resume` and `memrl sweep` rebuild
the same env from it, with no code of the user's beyond that module.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import inspect
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import gymnasium as gym


class UnsupportedEnvError(ValueError):
    """A gymnasium env memrl cannot build or run as it is; the message says what to change."""


# id prefix -> the package whose import registers those ids
KNOWN_PACKAGES = {"popgym-": "popgym", "MiniGrid-": "minigrid", "BabyAI-": "minigrid"}
# package -> how to install it
EXTRAS = {"popgym": "pip install 'memrl[popgym]'", "minigrid": "pip install 'memrl[minigrid]'",
          "pybullet_envs_gymnasium": "pip install 'memrl[bullet]'"}


@contextlib.contextmanager
def _current_folder_importable() -> Iterator[None]:
    """The folder memrl runs in is importable, as it is for `python -m` (the `memrl` script's
    own folder is what Python puts on sys.path instead); appended, so it shadows nothing."""
    cwd = os.getcwd()
    added = cwd not in sys.path and "" not in sys.path
    if added:
        sys.path.append(cwd)
    try:
        yield
    finally:
        if added:
            sys.path.remove(cwd)


def import_module(name: str, what: str) -> ModuleType:
    """Import `name`, or raise one line saying why not and how to get it (`what`: whose
    module, for the message)."""
    try:
        with _current_folder_importable():
            return importlib.import_module(name)
    except ModuleNotFoundError as err:
        top = name.split(".")[0]
        if err.name is not None and err.name.split(".")[0] != top:  # the module's own import
            raise UnsupportedEnvError(f"{what}: importing {name} failed: {err}") from None
        hint = EXTRAS.get(top, f"install it, or run memrl from the folder that holds "
                               f"{name.replace('.', '/')}.py")
        raise UnsupportedEnvError(f"{what}: no module named {name!r}; {hint}") from None
    except Exception as err:  # whatever the module does wrong on import, in one line
        raise UnsupportedEnvError(f"{what}: importing {name} raised {describe(err)}") from err


def describe(err: BaseException) -> str:
    """An exception in one line: its type, first line and where it was raised."""
    text = str(err).splitlines()[0] if str(err) else ""
    frames = traceback.extract_tb(err.__traceback__)
    where = f" ({os.path.basename(frames[-1].filename)}:{frames[-1].lineno} in " \
            f"{frames[-1].name})" if frames else ""
    return f"{type(err).__name__}: {text}{where}" if text else f"{type(err).__name__}{where}"


@dataclass(frozen=True)
class EnvSource:
    """How to build the env `env_id` names: `make(**kwargs)` (render_mode, say)."""

    env_id: str
    make: Callable[..., gym.Env]


def resolve(env_id: str) -> EnvSource:
    """The EnvSource of config_env.env_id (importing what it needs), or one line saying what
    is wrong with it."""
    what = f"config_env.env_id {env_id!r}"
    if not isinstance(env_id, str) or not env_id.strip():
        raise UnsupportedEnvError(f"{what} must name a gymnasium env, e.g. CartPole-v1, "
                                  "popgym:popgym-RepeatPreviousEasy-v0 or my_module:MyEnv")
    module_name, colon, name = env_id.rpartition(":")
    if colon:
        module = import_module(module_name, what)
        target = getattr(module, name, None) if name.isidentifier() else None
        if target is not None:
            if not callable(target):
                raise UnsupportedEnvError(f"{what}: {module_name}.{name} is a "
                                          f"{type(target).__name__}, not a class or function "
                                          "that returns a gymnasium env")
            return EnvSource(env_id, _checked_constructor(target, env_id))
    else:
        prefix = next((p for p in KNOWN_PACKAGES if env_id.startswith(p)), None)
        if prefix is not None and env_id not in gym.registry:
            import_module(KNOWN_PACKAGES[prefix], what)
    try:
        gym.spec(name)
    except gym.error.Error as err:
        where = f"after importing {module_name}" if colon else "in gymnasium's registry"
        raise UnsupportedEnvError(
            f"{what} is not a registered gymnasium id {where} ({err}); e.g. CartPole-v1, "
            "popgym:popgym-RepeatPreviousEasy-v0 (module:env_id imports the module that "
            "registers it), or my_module:MyEnv (a class)") from None
    return EnvSource(env_id, lambda **kwargs: gym.make(name, **kwargs))


def _checked_constructor(target: Callable[..., Any], env_id: str) -> Callable[..., gym.Env]:
    """`target(**kwargs)`, passing render_mode only to constructors that take it."""
    try:
        takes_render_mode = "render_mode" in inspect.signature(target).parameters
    except (TypeError, ValueError):  # no signature to read (a C function)
        takes_render_mode = False

    def make(**kwargs: Any) -> gym.Env:
        if not takes_render_mode:
            kwargs.pop("render_mode", None)
        return target(**kwargs)
    return make


# ---- wrappers --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Wrapper:
    """One entry of config_env.wrappers: `module:Callable(key=value, ...)`."""

    text: str
    module: str
    attribute: str  # may be dotted: Class.method
    kwargs: dict[str, Any] = field(default_factory=dict)

    def load(self) -> Callable[..., gym.Env]:
        what = f"config_env.wrappers entry {self.text!r}"
        target: Any = import_module(self.module, what)
        for part in self.attribute.split("."):
            if not hasattr(target, part):
                raise UnsupportedEnvError(f"{what}: {self.module} has no {self.attribute}")
            target = getattr(target, part)
        if not callable(target):
            raise UnsupportedEnvError(f"{what}: {self.module}.{self.attribute} is not callable")
        return target


def parse_wrapper(text: str) -> Wrapper:
    """`module:Callable` or `module:Callable(key=literal, ...)`, or one line saying the form."""
    form = ("write module:Callable or module:Callable(key=value, ...) with literal values, "
            "e.g. minigrid.wrappers:ViewSizeWrapper(agent_view_size=5)")
    module, colon, call = text.partition(":") if isinstance(text, str) else ("", "", "")
    what = f"config_env.wrappers entry {text!r}"
    if not colon or not module:
        raise UnsupportedEnvError(f"{what}: {form}")
    try:
        node = ast.parse(call.strip(), mode="eval").body
        kwargs = {}
        if isinstance(node, ast.Call):
            if node.args or any(k.arg is None for k in node.keywords):
                raise ValueError("only keyword arguments")
            kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
            node = node.func
        attribute = ast.unparse(node)
        if not all(part.isidentifier() for part in attribute.split(".")):
            raise ValueError(attribute)
    except (SyntaxError, ValueError, TypeError):
        raise UnsupportedEnvError(f"{what}: {form}") from None
    return Wrapper(text, module.strip(), attribute, kwargs)


def apply_wrappers(env: gym.Env, wrappers: Sequence[Wrapper]) -> gym.Env:
    """env wrapped by each of `wrappers` in order (the first is innermost)."""
    for wrapper in wrappers:
        function = wrapper.load()
        try:
            env = function(env, **wrapper.kwargs)
        except Exception as err:
            raise UnsupportedEnvError(f"config_env.wrappers entry {wrapper.text!r} raised "
                                      f"{describe(err)}") from err
        if not isinstance(env, gym.Env):
            raise UnsupportedEnvError(f"config_env.wrappers entry {wrapper.text!r} returned a "
                                      f"{type(env).__name__}, not a gymnasium env")
    return env


def build(source: EnvSource, wrappers: Sequence[Wrapper], **kwargs: Any) -> gym.Env:
    """A new env of `source` (made with `kwargs`), wrapped; what it raises is one line."""
    try:
        env = source.make(**kwargs)
    except UnsupportedEnvError:
        raise
    except Exception as err:
        raise UnsupportedEnvError(f"building {source.env_id} raised {describe(err)}") from err
    if not isinstance(env, gym.Env):
        raise UnsupportedEnvError(f"{source.env_id} built a {type(env).__name__}, not a "
                                  "gymnasium env (gymnasium.Env)")
    return apply_wrappers(env, wrappers)
