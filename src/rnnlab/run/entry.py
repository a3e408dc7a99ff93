"""What every Hydra entry point shares: one-line errors for Hydra's own mistakes, and a quick exit."""

from __future__ import annotations

import atexit
import contextlib
import functools
import gc
from collections.abc import Iterator

from omegaconf import OmegaConf

_registered = False


def skip_exit_gc() -> None:
    """Let this process exit without the final garbage collection over every live object.

    torch and Lightning leave about a million objects behind; collecting them at exit took
    a noticeable part of every short command (figures in docs/benchmarks.md).
    ``gc.freeze()`` at exit skips that pass; objects are still released by reference
    counting, files and loggers are closed by their owners (Lightning finalizes its
    loggers, logging's own atexit flushes the handlers), and Python never promised
    finalizers for what is alive at exit anyway.
    """
    global _registered
    if not _registered:
        atexit.register(gc.freeze)
        _registered = True


def settings_help(program: str) -> str:
    """The declared root settings of ``program`` for its --help (Hydra's help template asks
    for them through the ``rnnlab_settings`` resolver); light: pydantic, no torch."""
    from rnnlab.declared import fields
    from rnnlab.run import schema

    declarations = {
        "rnnlab-train": [
            ("", schema.TrainSettings),
            ("task.", schema.TaskSettings),
            ("trainer.", schema.TrainerSettings),
        ],
        "rnnlab-eval": [("", schema.EvalSettings)],
        "rnnlab-sample": [("", schema.SampleSettings)],
    }[program]
    lines = []
    for prefix, model in declarations:
        for field in fields(model):
            if field.allowed != "the settings listed under its name":
                lines.append(f"{prefix}{field.name}: {field.meaning} ({field.allowed})")
    return "\n".join(lines)


def help_text(config_name: str, overrides: list[str]) -> str:
    """``--help`` from the app's own help config (conf/hydra/default.yaml's template), with the
    config groups listed once. Hydra's --help lists every group twice over (its own groups
    too, which the template does not show), deep-copying its config cache for each: most of
    the command's time (docs/benchmarks.md, startup)."""
    import string

    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from rnnlab import CONFIG_DIR

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name, overrides=overrides, return_hydra_config=True)
        loader = GlobalHydra.instance().config_loader()
        groups = sorted(group for group in loader.list_groups("") if group != "hydra")
        listed = [f"{group}: {', '.join(sorted(loader.get_group_options(group)))}" for group in groups]
        template = cfg.hydra.help.template
    config = OmegaConf.to_yaml(OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"]))
    return string.Template(template).safe_substitute(APP_CONFIG_GROUPS="\n".join(listed), CONFIG=config)


def _print_help(config_name: str, overrides: list[str]) -> None:
    print(help_text(config_name, overrides))


@contextlib.contextmanager
def one_line_errors(program: str) -> Iterator[None]:
    """Around an entry point's work (inside its task function, where Hydra would print its
    own report first): a setting's mistake is one line and exit 2; a write that fails (a full
    disk, a folder that stops taking writes) is one line naming the file, and exit 1."""
    import sys

    from rnnlab.errors import WRITE_FAULTS, ConfigError, write_fault_in

    try:
        yield
    except ConfigError as error:
        print(f"{program}: error: {error}", file=sys.stderr)
        sys.exit(2)
    except Exception as error:
        fault = write_fault_in(error)
        if fault is None:
            raise
        path = fault.filename2 or fault.filename or "a file"
        print(f"{program}: error: could not write {path}: {WRITE_FAULTS[fault.errno]}", file=sys.stderr)
        sys.exit(1)


def run_entry_point(main, program: str, config_name: str | None = None, own_help: bool = True) -> None:
    """Run a ``@hydra.main`` entry point so that Hydra's own errors are one line and exit 2,
    like rnnlab's: an override that names no key (``foo=1``), an option a config group does
    not have (``model=transformer``), an override Hydra cannot parse. Set
    ``HYDRA_FULL_ERROR=1`` to see Hydra's full report and traceback instead. With
    ``config_name``, a misspelled key gets the nearest key of that config, and (unless
    ``own_help`` is false) ``--help`` is :func:`help_text`."""
    import os
    import sys

    from hydra.errors import HydraException

    arguments = sys.argv[1:]
    if config_name and own_help and {"--help", "-h"} & set(arguments):
        overrides = [argument for argument in arguments if not argument.startswith("-")]
        main = functools.partial(_print_help, config_name, overrides)
    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        main()
        return
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra raises its errors instead of printing a report
    try:
        main()
    except (HydraException, ValueError) as error:
        message = hydra_message(error, config_name)
        if message is None:
            raise
        print(f"{program}: error: {message}", file=sys.stderr)
        sys.exit(2)
    finally:
        os.environ.pop("HYDRA_FULL_ERROR", None)


def hydra_message(error: BaseException, config_name: str | None = None) -> str | None:
    """One line for an error raised while Hydra composes a config or builds its plugins;
    None for an error that is not a setting's (a bug keeps its traceback)."""
    import re

    from hydra.errors import HydraException, MissingConfigException, OverrideParseException

    from rnnlab.errors import ConfigError, did_you_mean
    from rnnlab.run import legacy

    cause: BaseException | None = error
    while cause is not None:  # a setting rnnlab checks, raised inside a Hydra plugin
        if isinstance(cause, ConfigError):
            return str(cause)
        cause = cause.__cause__
    if isinstance(error, MissingConfigException) and error.missing_cfg_file and error.options is not None:
        group, _, option = error.missing_cfg_file.rpartition("/")
        options = ", ".join(error.options)
        return f"{group} must be one of {options} (got '{option}'): no conf/{group}/{option}.yaml"
    if isinstance(error, OverrideParseException):
        reason = str(error).splitlines()[0]
        return (
            f"{error.override} must be an override key=value ({reason}; see "
            "https://hydra.cc/docs/advanced/override_grammar/basic)"
        )
    if not isinstance(error, HydraException):
        return None
    unknown = re.match(r"Could not override '([^']+)'\.\s+To append to your config use \+(\S+)", str(error))
    if unknown:  # a key=value whose key the config does not have: most often a typo
        key, override = unknown.groups()
        if key in legacy.MOVED:
            return f"{key} must be written {legacy.MOVED[key]} since rnnlab 0.2 (the task reads it)"
        hint = did_you_mean(key, config_keys(config_name)) if config_name else ""
        return f"{key} must be a key the config has{hint} (--cfg job lists them; +{override} adds a new one)"
    noise = ("full_key:", "object_type=", "Set the environment", "Config search path", "provider=")
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return " ".join(line for line in lines if not line.startswith(noise))


# Hydra's --help template asks for the declared settings by this name (conf/hydra/default.yaml)
OmegaConf.register_new_resolver("rnnlab_settings", settings_help, replace=True)


def config_keys(config_name: str) -> list[str]:
    """Every key of the composed default config, dotted (``trainer.max_epochs``): the names a
    misspelled override is matched against. Composed again, only on that error's path."""
    from hydra import compose, initialize_config_dir

    from rnnlab import CONFIG_DIR

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name)
    keys = []

    def walk(node: dict, prefix: str) -> None:
        for key, child in node.items():
            keys.append(f"{prefix}{key}")
            if isinstance(child, dict):
                walk(child, f"{prefix}{key}.")

    walk(OmegaConf.to_container(cfg, resolve=False), "")
    return keys
