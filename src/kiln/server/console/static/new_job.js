// The create-training-job form: uploads the source through PUT /api/v1/artifacts, then posts a
// CreateTrainingJob request (the SDK's shape) and shows the API's refusal next to the field it names.
"use strict";
(function () {
  const NAME_PATTERN = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
  // API messages → the field they are about; the first match wins, so the specific ones come first.
  const FIELD_OF_MESSAGE = [
    [/Training job .* already exists|TrainingJobName/i, "name"],
    [/sagemaker_program|entry point/i, "entry_point"],
    [/sagemaker_submit_directory|source archive/i, "source"],
    [/InstanceType|instance type/i, "instance_type"],
    [/InstanceCount/i, "instance_count"],
    [/MaxRuntime/i, "max_run"],
    [/CheckpointConfig/i, "checkpoint_uri"],
    [/metric/i, "metrics"],
    [/channel|InputDataConfig/i, "channels"],
    [/hyperparameter/i, "hyperparameters"],
  ];

  class FieldError extends Error {
    constructor(field, text) { super(text); this.field = field; }
  }

  function pairs(text, field, what) {
    const found = [];
    text.split("\n").forEach((raw, i) => {
      const line = raw.trim();
      if (!line) return;
      const at = line.indexOf("=");
      if (at <= 0) throw new FieldError(field, "Line " + (i + 1) + " (" + line + ") is not " + what + ": write it as name=value.");
      found.push([line.slice(0, at).trim(), line.slice(at + 1).trim()]);
    });
    return found;
  }

  // The SDK JSON-encodes every hyperparameter value: 10 → "10", adam → "\"adam\"".
  function encodeValue(value) {
    try {
      const parsed = JSON.parse(value);
      if (typeof parsed !== "object" || parsed === null) return JSON.stringify(parsed);
    } catch (e) { /* a plain string */ }
    return JSON.stringify(value);
  }

  function tarOne(name, bytes) {
    const header = new Uint8Array(512);
    const text = new TextEncoder();
    const put = (value, offset, length) => header.set(text.encode(value).subarray(0, length), offset);
    const octal = (n, width) => n.toString(8).padStart(width - 1, "0") + "\0";
    put(name, 0, 100);
    put("0000644\0", 100, 8);
    put("0000000\0", 108, 8);
    put("0000000\0", 116, 8);
    put(octal(bytes.length, 12), 124, 12);
    put(octal(Math.floor(Date.now() / 1000), 12), 136, 12);
    put("        ", 148, 8);
    put("0", 156, 1);
    put("ustar\0", 257, 6);
    put("00", 263, 2);
    const sum = header.reduce((a, b) => a + b, 0);
    put(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8);
    const out = new Uint8Array(512 + Math.ceil(bytes.length / 512) * 512 + 1024);
    out.set(header, 0);
    out.set(bytes, 512);
    return out;
  }

  async function gzip(bytes) {
    const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }

  window.KilnNewJob = function (form) {
    const { api, message, show } = window.KilnConsole;
    const bucket = form.dataset.bucketUri.replace(/\/+$/, "");

    function clearErrors() {
      form.querySelectorAll(".field-error").forEach((el) => show(el, ""));
      form.querySelectorAll(".invalid").forEach((el) => el.classList.remove("invalid"));
    }

    function fieldError(field, text) {
      const el = document.getElementById("error-" + field) || document.getElementById("error-form");
      show(el, text);
      const input = el.closest(".field") && el.closest(".field").querySelector("input, textarea, select");
      if (input) { input.classList.add("invalid"); input.focus(); }
    }

    async function sourceUri(jobName, entryPoint) {
      const file = form.source_file.files[0];
      if (!file) {
        const uri = form.source_uri.value.trim();
        if (!uri) throw new FieldError("source", "Upload a script or a source archive, or give the URI of one.");
        return uri;
      }
      let body = new Uint8Array(await file.arrayBuffer());
      if (!/\.(tar\.gz|tgz)$/i.test(file.name)) {
        if (entryPoint !== file.name) throw new FieldError("entry_point", "The entry point must be the uploaded script's name, " + file.name + ".");
        body = await gzip(tarOne(file.name, body));
      }
      const uri = bucket + "/console/" + jobName + "/source/sourcedir.tar.gz";
      const r = await api("PUT", "/api/v1/artifacts?uri=" + encodeURIComponent(uri), body);
      if (!r.ok) throw new FieldError("source", "Uploading the source failed: " + message(r));
      return uri;
    }

    async function request() {
      const file = form.source_file.files[0];
      const entryPoint = form.entry_point.value.trim() || (file && !/\.(tar\.gz|tgz)$/i.test(file.name) ? file.name : "");
      if (!entryPoint) throw new FieldError("entry_point", "Name the script to run, e.g. train.py.");
      const stem = entryPoint.replace(/\.py$/, "").replace(/[^a-zA-Z0-9]+/g, "-").replace(/^-+|-+$/g, "") || "job";
      const stamp = new Date().toISOString().replace(/[-:T]/g, "").slice(0, 14);
      const name = form.name.value.trim() || (stem.slice(0, 40) + "-" + stamp);
      if (!NAME_PATTERN.test(name)) {
        throw new FieldError("name", "Job name " + JSON.stringify(name) + " is not valid: use 1-63 letters, digits and hyphens, starting and ending with a letter or digit.");
      }
      const count = Number(form.instance_count.value);
      if (!Number.isInteger(count) || count < 1) throw new FieldError("instance_count", "Instance count must be a whole number of at least 1.");
      const maxRun = Number(form.max_run.value);
      if (!Number.isInteger(maxRun) || maxRun < 1) throw new FieldError("max_run", "Max runtime must be a whole number of seconds, at least 1.");
      const hyperparameters = {};
      for (const [k, v] of pairs(form.hyperparameters.value, "hyperparameters", "a hyperparameter")) hyperparameters[k] = encodeValue(v);
      const channels = pairs(form.channels.value, "channels", "a channel").map(([channel, uri]) => ({
        ChannelName: channel,
        DataSource: { S3DataSource: { S3Uri: uri, S3DataType: "S3Prefix", S3DataDistributionType: "FullyReplicated" } },
      }));
      const metrics = pairs(form.metrics.value, "metrics", "a metric definition").map(([metric, regex]) => ({ Name: metric, Regex: regex }));
      const submit = await sourceUri(name, entryPoint);
      Object.assign(hyperparameters, {
        sagemaker_program: JSON.stringify(entryPoint),
        sagemaker_submit_directory: JSON.stringify(submit),
        sagemaker_container_log_level: "20",
        sagemaker_job_name: JSON.stringify(name),
        sagemaker_region: JSON.stringify("local"),
      });
      const body = {
        TrainingJobName: name,
        HyperParameters: hyperparameters,
        AlgorithmSpecification: { TrainingInputMode: "File", MetricDefinitions: metrics },
        InputDataConfig: channels,
        OutputDataConfig: { S3OutputPath: bucket },
        ResourceConfig: { InstanceType: form.instance_type.value.trim(), InstanceCount: count, VolumeSizeInGB: 30 },
        StoppingCondition: { MaxRuntimeInSeconds: maxRun },
      };
      const checkpoint = form.checkpoint_uri.value.trim();
      if (checkpoint) body.CheckpointConfig = { S3Uri: checkpoint };
      return body;
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors();
      const button = document.getElementById("create-job");
      button.disabled = true;
      try {
        const body = await request();
        const r = await api("POST", "/api/v1/training-jobs", body);
        if (!r.ok) {
          const text = message(r);
          const match = FIELD_OF_MESSAGE.find(([pattern]) => pattern.test(text));
          fieldError(match ? match[1] : "form", text);
          return;
        }
        window.location.href = "/training-jobs/" + encodeURIComponent(r.data.TrainingJobName);
      } catch (e) {
        if (e instanceof FieldError) fieldError(e.field, e.message);
        else fieldError("form", "Could not create the job: " + e.message);
      } finally {
        button.disabled = false;
      }
    });
  };
})();
