"""What a finished host leaves behind: model.tar.gz, output.tar.gz and a failure reason.

See docs/contracts.md §1.7.
"""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path

from kiln.artifacts import ArtifactStore
from kiln.runtime.training.layout import OptMl
from kiln.runtime.training.user_process import RunOutcome

__all__ = ["failure_reason", "host_model_part_uri", "upload_model_part", "upload_outputs"]

MAX_FAILURE_REASON = 1024  # SageMaker's limit on FailureReason


def _pack(folder: Path, target: Path) -> None:
    # gzip level 1: model files are mostly incompressible floats, and level 9 costs seconds for nothing.
    with tarfile.open(target, "w:gz", compresslevel=1) as tar:
        for path in sorted(folder.rglob("*")):
            tar.add(path, arcname=path.relative_to(folder).as_posix(), recursive=False)


def upload_outputs(layout: OptMl, store: ArtifactStore, output_prefix: str) -> tuple[str, str | None]:
    """Pack ``model/`` and ``output/data/`` and upload them; returns (model URI, output URI or None)."""
    with tempfile.TemporaryDirectory(prefix="kiln-pack-") as tmp:
        model_tar = Path(tmp) / "model.tar.gz"
        _pack(layout.model_dir, model_tar)
        model_uri = store.put_file(model_tar, f"{output_prefix}/model.tar.gz")
        output_uri = None
        if any(layout.output_data_dir.iterdir()):
            output_tar = Path(tmp) / "output.tar.gz"
            _pack(layout.output_data_dir, output_tar)
            output_uri = store.put_file(output_tar, f"{output_prefix}/output.tar.gz")
    return model_uri, output_uri


def host_model_part_uri(output_prefix: str, host: str) -> str:
    """Where a host other than the first leaves its model/ for the control plane to merge."""
    return f"{output_prefix}/hosts/{host}/model.tar.gz"


def upload_model_part(layout: OptMl, store: ArtifactStore, output_prefix: str, host: str) -> str | None:
    if not any(layout.model_dir.iterdir()):
        return None  # the usual case: only rank 0 saves the model
    with tempfile.TemporaryDirectory(prefix="kiln-pack-") as tmp:
        part = Path(tmp) / "model.tar.gz"
        _pack(layout.model_dir, part)
        return store.put_file(part, host_model_part_uri(output_prefix, host))


def failure_reason(layout: OptMl, outcome: RunOutcome, command: list[str]) -> str:
    """The script's own ``output/failure`` text, else the stderr tail ending with the exception line."""
    if layout.failure_file.exists():
        text = layout.failure_file.read_text(errors="replace").strip()
        if text:
            return _keep_end(text)
    tail = [line for line in outcome.stderr_tail if line.strip()]
    cut = next((i for i in range(len(tail) - 1, -1, -1) if tail[i].startswith("Traceback")), None)
    message = "\n".join(tail[cut:] if cut is not None else tail[-10:])
    head = (
        f"AlgorithmError: ExecuteUserScriptError: ExitCode {outcome.exit_code} Command {' '.join(command)!r}"
    )
    if not message:
        return _keep_end(f"{head}; the script printed nothing on stderr")
    return _keep_end(f"{head}\n{message}")


def _keep_end(text: str) -> str:
    """Cut to SageMaker's 1024 characters, keeping the end: the exception line is what people need."""
    if len(text) <= MAX_FAILURE_REASON:
        return text
    return "…" + text[-(MAX_FAILURE_REASON - 1) :]
