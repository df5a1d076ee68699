"""``git_config``: training code taken from a git repository, as SageMaker's SDK does (``git_utils``).

The repository is cloned with the machine's ``git`` into a temporary folder (kept until the program
exits), the branch or commit checked out, and ``entry_point`` / ``source_dir`` / ``dependencies`` read
relative to it. Any repository ``git`` can reach works (a local path, ``file://``, or a remote this
machine can reach); one it cannot reach fails at once with git's own message.
"""

from __future__ import annotations

import atexit
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiln.errors import ValidationError

__all__ = ["GitSource", "clone_git_source"]

GIT_TIMEOUT_SECONDS = 300
KNOWN_KEYS = frozenset({"repo", "branch", "commit", "2FA_enabled", "username", "password", "token"})


@dataclass(frozen=True)
class GitSource:
    entry_point: str
    source_dir: str | None
    dependencies: list[str]


def _git(args: list[str], cwd: Path | None = None) -> None:
    try:
        result = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=GIT_TIMEOUT_SECONDS
        )
    except FileNotFoundError:
        raise ValidationError("git_config needs the git program, which is not installed here") from None
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise ValidationError(f"git {' '.join(args)} failed: {' '.join(detail[-3:]) or 'no message'}")


def clone_git_source(
    git_config: dict[str, Any], entry_point: str, source_dir: str | None, dependencies: Sequence[str]
) -> GitSource:
    """Clone the repository and return the code's paths inside the clone."""
    unknown = set(git_config) - KNOWN_KEYS
    if unknown or "repo" not in git_config:
        raise ValidationError(
            f"git_config {git_config!r} must name 'repo' (and optionally 'branch', 'commit'); "
            f"unknown keys: {', '.join(sorted(unknown)) or 'none'}"
        )
    clone = Path(tempfile.mkdtemp(prefix="kiln-git-"))
    atexit.register(shutil.rmtree, clone, ignore_errors=True)
    branch = git_config.get("branch")
    _git(
        [
            "clone",
            "--quiet",
            *(["--branch", str(branch)] if branch else []),
            str(git_config["repo"]),
            str(clone),
        ]
    )
    if git_config.get("commit"):
        _git(["checkout", "--quiet", str(git_config["commit"])], cwd=clone)
    root = clone / source_dir if source_dir else clone
    return GitSource(
        entry_point=entry_point if source_dir else str(clone / entry_point),
        source_dir=str(root) if source_dir else None,
        dependencies=[str(clone / dependency) for dependency in dependencies],
    )
