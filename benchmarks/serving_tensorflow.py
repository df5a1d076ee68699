"""The TensorFlow half of ``serving.py``: the seed's CNN as a SavedModel, and the FastAPI app serving it.

The model is ``build_model`` of examples/mnist/mnist_tf.py with random weights (speed does not depend
on them), exported with Keras' ``model.export`` into ``1/`` of a model.tar.gz, as TF Serving expects.
Bodies are what a TF Serving client sends: ``{"instances": [image]}`` as JSON, or the image batch as
NPY. The FastAPI app is the minimal one a user would write: ``tf.saved_model.load`` and one async
handler that calls ``serving_default``.
"""

from __future__ import annotations

import io
import json
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "mnist"

FASTAPI_APP = """\
# The minimal FastAPI app a user would write first: one async handler, the SavedModel called inline.
import io
import json

import numpy as np
import tensorflow as tf
from fastapi import FastAPI, Request, Response

model = tf.saved_model.load({model!r})
serve = model.signatures["serving_default"]
name = next(iter(serve.structured_input_signature[1]))
app = FastAPI()


@app.post("/invocations")
async def invocations(request: Request) -> Response:
    body = await request.body()
    if request.headers.get("content-type", "").startswith("application/x-npy"):
        data = np.load(io.BytesIO(body), allow_pickle=False).astype(np.float32)
    else:
        data = np.asarray(json.loads(body)["instances"], dtype=np.float32)
    output = next(iter(serve(**{{name: tf.constant(data)}}).values()))
    return Response(json.dumps({{"predictions": output.numpy().tolist()}}), media_type="application/json")
"""


def build_model(folder: Path) -> tuple[Path, Path]:
    """(the SavedModel's folder, a model.tar.gz holding it as ``1/``) of the seed's CNN in Keras."""
    import tensorflow as tf

    sys.path.insert(0, str(EXAMPLE))
    from mnist_tf import build_model as build_cnn  # type: ignore[import-not-found]

    tf.keras.utils.set_random_seed(0)
    saved = folder / "savedmodel" / "1"
    build_cnn(tf, 0.4).export(str(saved), verbose=False)
    archive = folder / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(saved, arcname="1")
    return saved, archive


def bodies(image: npt.NDArray[np.float32]) -> tuple[bytes, bytes]:
    """(TF Serving JSON ``{"instances": [image]}``, NPY of the one-image batch)."""
    npy = io.BytesIO()
    np.save(npy, image[np.newaxis])
    return json.dumps({"instances": [image.tolist()]}).encode(), npy.getvalue()


def forward_ceiling(saved: Path, seconds: float) -> list[tuple[int, float]]:
    """(batch size, images/s) of ``serving_default`` alone, with TensorFlow's own threads."""
    import tensorflow as tf

    serve = tf.saved_model.load(str(saved)).signatures["serving_default"]
    name = next(iter(serve.structured_input_signature[1]))
    figures = []
    for batch in (1, 8, 32, 64):
        x = tf.constant(np.random.default_rng(0).random((batch, 28, 28), dtype=np.float32))
        for _ in range(10):
            serve(**{name: x})
        calls, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds:
            serve(**{name: x})
            calls += 1
        figures.append((batch, calls * batch / elapsed))
    return figures
