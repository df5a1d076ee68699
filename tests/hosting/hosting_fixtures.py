"""Models for the hosting tests, packed as a user would: model.tar.gz with or without code/."""

from __future__ import annotations

import tarfile
import textwrap
from pathlib import Path

import kiln


def pack(folder: Path, files: dict[str, bytes | str], name: str = "model.tar.gz") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / name
    staging = folder / "staging"
    with tarfile.open(archive, "w:gz") as tar:
        for relative, content in files.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, str):
                path.write_text(textwrap.dedent(content))
            else:
                path.write_bytes(content)
            tar.add(path, arcname=relative)
    return archive


def torchscript_model_bytes(folder: Path) -> bytes:
    import torch

    torch.manual_seed(0)
    linear = torch.nn.Linear(784, 10)

    class Tiny(torch.nn.Module):
        # Takes (N, 28, 28), (N, 1, 28, 28) or (N, 784), like the tutorial's exported CNN.
        def __init__(self) -> None:
            super().__init__()
            self.linear = linear

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.linear(x.reshape(-1, 784))

    model = torch.jit.trace(Tiny(), torch.zeros(2, 28, 28))
    path = folder / "model.pt"
    folder.mkdir(parents=True, exist_ok=True)
    model.save(str(path))
    return path.read_bytes()


def upload_model(session: kiln.Session, folder: Path, files: dict[str, bytes | str]) -> str:
    archive = pack(folder, files)
    return session.upload_data(archive, key_prefix=f"hosting-tests/{folder.name}")
