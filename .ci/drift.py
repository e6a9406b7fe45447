"""Which installed packages differ from the lock: `name installed (lock X)`, one a line."""

import re
import sys
from importlib.metadata import distributions


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(path: str) -> dict[str, str]:
    pins = {}
    for line in open(path, encoding="utf-8"):
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)", line)
        if match:
            pins[canonical(match[1])] = match[2]
    return pins


def main() -> None:
    pins = locked(sys.argv[1])
    installed = {canonical(d.metadata["Name"]): d.version for d in distributions()}
    changed = [f"{name} {version} (lock {pins[name]})" for name, version in sorted(installed.items())
               if name in pins and pins[name] != version]
    added = [f"{name} {version} (not in the lock)" for name, version in sorted(installed.items())
             if name not in pins and name not in ("workbench", "pip", "setuptools")]
    lines = changed + added
    print("\n".join(lines) if lines else "the newest releases are the locked ones")


if __name__ == "__main__":
    main()
