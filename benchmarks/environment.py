"""The machine and package versions a benchmark ran with."""

from __future__ import annotations

import os
import platform
from importlib import metadata

PACKAGES = ("keras", "keras-tuner", "tensorflow", "tensorflow-cpu", "numpy", "scikit-learn", "autokeras", "keras-nas")


def environment() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "packages": versions}


def describe(env: dict) -> str:
    packages = ", ".join(f"{k} {v}" for k, v in env["packages"].items())
    return f"{env['cpu']}, {env['cores']} cores, Python {env['python']}; {packages}"
