// The create-tuning-job form: builds a CreateHyperParameterTuningJob request from the ranges typed in
// and the template training job's definition (rendered into the page), posts it through the console's
// one API helper, and shows a refusal next to the field it is about.
"use strict";
(function () {
  const NAME_PATTERN = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$/;
  const SCALINGS = ["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"];
  const FIELD_OF_MESSAGE = [
    [/HyperParameterTuningJobName|tuning job .* already exists/i, "name"],
    [/MaxNumberOfTrainingJobs/i, "max_jobs"],
    [/MaxParallelTrainingJobs/i, "max_parallel"],
    [/objective|MetricName/i, "objective"],
    [/range|ParameterRanges|Scaling|categorical/i, "ranges"],
  ];

  class FieldError extends Error {
    constructor(field, text) { super(text); this.field = field; }
  }

  // "lr=continuous:0.001:0.1:Logarithmic" → SageMaker's ParameterRanges (bounds as strings, as its API).
  function parseRanges(text) {
    const ranges = { ContinuousParameterRanges: [], IntegerParameterRanges: [], CategoricalParameterRanges: [] };
    const names = [];
    text.split("\n").forEach((raw, i) => {
      const line = raw.trim();
      if (!line) return;
      const where = "Line " + (i + 1) + " (" + line + ")";
      const at = line.indexOf("=");
      const name = line.slice(0, at).trim();
      const parts = line.slice(at + 1).split(":").map((p) => p.trim());
      const kind = (parts[0] || "").toLowerCase();
      if (at <= 0 || !["continuous", "integer", "categorical"].includes(kind)) {
        throw new FieldError("ranges", where + " must look like name=continuous:MIN:MAX, name=integer:MIN:MAX or name=categorical:A,B.");
      }
      names.push(name);
      if (kind === "categorical") {
        const values = (parts.slice(1).join(":")).split(",").map((v) => v.trim()).filter((v) => v);
        if (!values.length) throw new FieldError("ranges", where + " names no values: write name=categorical:A,B.");
        ranges.CategoricalParameterRanges.push({ Name: name, Values: values });
        return;
      }
      if (parts.length < 3 || parts.length > 4 || parts[1] === "" || parts[2] === "" || isNaN(Number(parts[1])) || isNaN(Number(parts[2]))) {
        throw new FieldError("ranges", where + " needs numbers MIN and MAX: name=" + kind + ":MIN:MAX[:SCALING].");
      }
      const scaling = parts[3] || "Auto";
      if (!SCALINGS.includes(scaling)) {
        throw new FieldError("ranges", where + ": scaling " + scaling + " is not one of " + SCALINGS.join(", ") + ".");
      }
      const range = { Name: name, MinValue: parts[1], MaxValue: parts[2], ScalingType: scaling };
      (kind === "continuous" ? ranges.ContinuousParameterRanges : ranges.IntegerParameterRanges).push(range);
    });
    if (!names.length) throw new FieldError("ranges", "Give at least one hyperparameter range to tune.");
    return [ranges, names];
  }

  window.KilnNewTuningJob = function (form) {
    const { api, message, show } = window.KilnConsole;
    const definition = JSON.parse(document.getElementById("t-definition").textContent);

    function clearErrors() {
      form.querySelectorAll(".field-error").forEach((el) => show(el, ""));
      form.querySelectorAll(".invalid").forEach((el) => el.classList.remove("invalid"));
    }

    function showError(field, text) {
      const target = document.getElementById("terror-" + field) || document.getElementById("terror-form");
      show(target, text);
      const input = form.elements[field];
      if (input && input.classList) input.classList.add("invalid");
    }

    function request() {
      const name = document.getElementById("t-name").value.trim();
      if (!NAME_PATTERN.test(name)) {
        throw new FieldError("name", "Tuning job name " + JSON.stringify(name) + " is not valid: use 1–32 letters, digits and hyphens.");
      }
      const [ranges, tuned] = parseRanges(form.ranges.value);
      const statics = Object.assign({}, definition.StaticHyperParameters || {});
      tuned.forEach((n) => delete statics[n]); // a tuned hyperparameter is not also a static one
      return {
        HyperParameterTuningJobName: name,
        HyperParameterTuningJobConfig: {
          Strategy: form.strategy.value,
          HyperParameterTuningJobObjective: { Type: form.objective_type.value, MetricName: form.objective.value },
          ResourceLimits: {
            MaxNumberOfTrainingJobs: Number(form.max_jobs.value),
            MaxParallelTrainingJobs: Number(form.max_parallel.value),
          },
          ParameterRanges: ranges,
          TrainingJobEarlyStoppingType: form.early_stopping.value,
        },
        TrainingJobDefinition: Object.assign({}, definition, { StaticHyperParameters: statics }),
      };
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors();
      const button = document.getElementById("create-tuning-job");
      let body;
      try {
        body = request();
      } catch (e) {
        if (e instanceof FieldError) { showError(e.field, e.message); return; }
        throw e;
      }
      button.disabled = true;
      const r = await api("POST", "/api/v1/tuning-jobs", body);
      button.disabled = false;
      if (r.ok) {
        window.location.href = "/tuning-jobs/" + encodeURIComponent(body.HyperParameterTuningJobName);
        return;
      }
      const text = message(r);
      const match = FIELD_OF_MESSAGE.find(([pattern]) => pattern.test(text));
      showError(match ? match[1] : "form", text);
    });
  };
})();
