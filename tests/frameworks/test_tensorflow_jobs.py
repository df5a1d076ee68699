"""TensorFlow through the server: script mode, TF_CONFIG across hosts, SavedModel endpoints, versions.

Scripts follow SageMaker's TensorFlow documentation ("Use TensorFlow with the SageMaker Python SDK":
argparse for ``--model_dir`` and ``--epochs``, ``SM_MODEL_DIR``/``SM_CHANNEL_*`` defaults, a SavedModel
under a numeric version folder). Data and models are tiny: importing TensorFlow is the cost here.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
from pathlib import Path

import numpy as np
import pytest

import kiln
from conftest import RunningServer, start_server
from kiln.errors import UnexpectedStatusException
from kiln.serializers import CSVSerializer
from kiln.tensorflow import TensorFlow, TensorFlowPredictor

tf = pytest.importorskip("tensorflow")
pytestmark = pytest.mark.tensorflow

FRAMEWORK_VERSION = ".".join(tf.__version__.split(".")[:2])

TRAIN_SCRIPT = """
import argparse, json, os
import numpy as np
import tensorflow as tf

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--model_dir", type=str)
    parser.add_argument("--sm-model-dir", type=str, default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", type=str, default=os.environ.get("SM_CHANNEL_TRAINING"))
    args, _ = parser.parse_known_args()

    x = np.load(os.path.join(args.train, "x.npy"))
    y = np.load(os.path.join(args.train, "y.npy"))
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential([tf.keras.Input(shape=(4,)), tf.keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=args.epochs, batch_size=8, verbose=0)
    os.makedirs(args.model_dir, exist_ok=True)
    with open(os.path.join(args.model_dir, "model_dir.txt"), "w") as f:
        f.write(args.model_dir)
    model.export(os.path.join(args.sm_model_dir, "1"))
"""

# input_handler / output_handler as in SageMaker's "Deploying to TensorFlow Serving Endpoints" guide.
INFERENCE_SCRIPT = """
import json

def input_handler(data, context):
    if context.request_content_type == "application/json":
        d = data.read().decode("utf-8")
        return d if len(d) else ""
    if context.request_content_type == "text/csv":
        rows = data.read().decode("utf-8").strip().split("\\n")
        return json.dumps({"instances": [[float(x) for x in row.split(",")] for row in rows]})
    raise ValueError(f"{context.request_content_type} not supported by this script")

def output_handler(data, context):
    if data.status_code != 200:
        raise ValueError(data.content.decode("utf-8"))
    body = json.loads(data.content)
    body["handled_by"] = context.model_name
    return json.dumps(body), context.accept_header
"""


def _training_data(tmp_path: Path, session: kiln.Session) -> str:
    folder = tmp_path / "data"
    folder.mkdir()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 4)).astype("float32")
    np.save(folder / "x.npy", x)
    np.save(folder / "y.npy", (x[:, 0] > 0).astype("int64") + (x[:, 1] > 0))
    return session.upload_data(str(folder), key_prefix="tf-data")


def test_a_keras_script_trains_exports_and_serves_instances(
    session: kiln.Session, write_script, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_script(TRAIN_SCRIPT)
    (source / "inference.py").write_text(INFERENCE_SCRIPT)
    estimator = TensorFlow(
        entry_point="train.py",
        source_dir=str(source),
        framework_version=FRAMEWORK_VERSION,
        py_version="py311",
        instance_type="local",
        hyperparameters={"epochs": 2},
        sagemaker_session=session,
    )
    estimator.fit({"training": _training_data(tmp_path, session)})
    printed = capsys.readouterr().out
    assert f"Kiln: TensorFlow {tf.__version__} (the server's environment)" in printed
    job = estimator.latest_training_job.name  # type: ignore[union-attr]
    # model_dir is SageMaker's <output>/<job>/model; the script's files there are uploaded to it.
    model_dir = estimator.hyperparameters()["model_dir"]
    assert json.loads(model_dir).endswith(f"/{job}/model")
    assert session.read_artifact(json.loads(model_dir) + "/model_dir.txt")
    with tarfile.open(fileobj=io.BytesIO(session.read_artifact(estimator.model_data)), mode="r:gz") as tar:
        assert "1/saved_model.pb" in tar.getnames()

    predictor = estimator.deploy(1, "local", entry_point="inference.py", source_dir=str(source))
    try:
        assert isinstance(predictor, TensorFlowPredictor)
        rows = np.random.default_rng(1).normal(size=(3, 4)).astype("float32")
        answer = predictor.predict({"instances": rows.tolist()})
        assert answer["handled_by"] == "model"  # output_handler ran, with the container's context
        predictions = np.asarray(answer["predictions"])
        assert predictions.shape == (3, 3)
        np.testing.assert_allclose(predictions.sum(axis=1), 1.0, rtol=1e-5)
        # The CSV path goes through input_handler, which builds the instances itself.
        by_csv = TensorFlowPredictor(predictor.endpoint_name, session, serializer=CSVSerializer())
        np.testing.assert_allclose(np.asarray(by_csv.predict(rows)["predictions"]), predictions, rtol=1e-5)
    finally:
        predictor.delete_endpoint()


MWMS_SCRIPT = """
import hashlib, json, os
import numpy as np
import tensorflow as tf

config = json.loads(os.environ["TF_CONFIG"])
rank = config["task"]["index"]
strategy = tf.distribute.MultiWorkerMirroredStrategy()
tf.random.set_seed(rank)  # different starting values on purpose: the strategy must sync them
with strategy.scope():
    w = tf.Variable(tf.random.normal([4, 1]))
    b = tf.Variable(tf.zeros([1]))

@tf.function
def train_step(x, y):
    def replica_step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((tf.matmul(x, w) + b - y) ** 2)
        grads = tape.gradient(loss, [w, b])
        grads = tf.distribute.get_replica_context().all_reduce("mean", grads)
        w.assign_sub(0.05 * grads[0])
        b.assign_sub(0.05 * grads[1])
        return loss
    return strategy.run(replica_step, args=(x, y))

rng = np.random.default_rng(rank)  # each worker trains on its own shard
for _ in range(5):
    x = rng.normal(size=(16, 4)).astype("float32")
    train_step(tf.constant(x), tf.constant(x.sum(axis=1, keepdims=True)))
digest = hashlib.sha256(w.numpy().tobytes() + b.numpy().tobytes()).hexdigest()[:16]
print(f"worker={rank} of={strategy.num_replicas_in_sync} weights={digest}", flush=True)
"""


def test_multi_worker_mirrored_strategy_ends_with_identical_weights(
    session: kiln.Session, write_script, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_script(MWMS_SCRIPT)
    estimator = TensorFlow(
        entry_point="train.py",
        source_dir=str(source),
        framework_version=FRAMEWORK_VERSION,
        py_version="py311",
        instance_count=2,
        instance_type="local",
        distribution={"multi_worker_mirrored_strategy": {"enabled": True}},
        model_dir=False,
        sagemaker_session=session,
    )
    estimator.fit()
    printed = capsys.readouterr().out
    configs = re.findall(
        r"\[(algo-\d)\] Kiln: multi_worker_mirrored_strategy training; TF_CONFIG=(\{.*\})", printed
    )
    assert len(configs) == 2, printed[-3000:]
    for host, text in configs:
        config = json.loads(text)
        assert config["task"] == {"index": int(host[-1]) - 1, "type": "worker"}
        assert len(config["cluster"]["worker"]) == 2
    digests = dict(re.findall(r"worker=(\d) of=2 weights=([0-9a-f]+)", printed))
    assert set(digests) == {"0", "1"}, printed[-3000:]
    assert digests["0"] == digests["1"]


def test_a_missing_framework_version_fails_at_once_with_what_to_do(tmp_path: Path, write_script) -> None:
    server: RunningServer = start_server(tmp_path / "home", extra_env={"KILN_FRAMEWORK_INSTALL": "0"})
    try:
        session = server.session()
        source = write_script("print('never runs')\n")
        estimator = TensorFlow(
            entry_point="train.py",
            source_dir=str(source),
            framework_version="1.15",
            py_version="py37",
            instance_type="local",
            sagemaker_session=session,
        )
        with pytest.raises(UnexpectedStatusException) as failure:
            estimator.fit(logs=False)
        reason = estimator.latest_training_job.describe()["FailureReason"]  # type: ignore[union-attr]
        assert "framework_version 1.15 of TensorFlow" in reason
        assert f"framework_version='{tf.__version__}'" in reason
        assert "Traceback" not in reason
        assert "1.15" in str(failure.value)
    finally:
        server.stop()


PS_SCRIPT = """
import json, os, socket, time

config = json.loads(os.environ["TF_CONFIG"])
hosts = json.loads(os.environ["SM_HOSTS"])
own_ps = config["cluster"]["ps"][hosts.index(os.environ["SM_CURRENT_HOST"])]
host, port = own_ps.rsplit(":", 1)
deadline = time.monotonic() + 120  # the parameter server imports TensorFlow first
while True:
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            raise SystemExit(f"no parameter server at {own_ps}")
        time.sleep(0.2)
print(f"task={config['task']['type']}:{config['task']['index']} ps={own_ps} up", flush=True)
"""


def test_parameter_server_hosts_run_a_ps_task_beside_the_script(
    session: kiln.Session, write_script, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_script(PS_SCRIPT)
    estimator = TensorFlow(
        entry_point="train.py",
        source_dir=str(source),
        framework_version=FRAMEWORK_VERSION,
        py_version="py311",
        instance_count=2,
        instance_type="local",
        distribution={"parameter_server": {"enabled": True}},
        model_dir=False,
        sagemaker_session=session,
    )
    estimator.fit()
    printed = capsys.readouterr().out
    assert re.search(r"\[algo-1\] task=master:0 ps=\S+ up", printed), printed[-3000:]
    assert re.search(r"\[algo-2\] task=worker:0 ps=\S+ up", printed), printed[-3000:]
    assert estimator.latest_training_job.describe()["TrainingJobStatus"] == "Completed"  # type: ignore[union-attr]
