// Kiln console: live updates and actions over the same REST API the SDK uses (/api/v1).
// Hand-written, no dependencies. Pages work without it; it only adds polling and buttons.
"use strict";
(function () {
  const $ = (selector, root) => (root || document).querySelector(selector);
  const enc = encodeURIComponent;
  const POLL_MS = 1000;
  const LIST_POLL_MS = 2000;

  async function api(method, path, body, headers) {
    const init = { method: method, headers: Object.assign({}, headers || {}), credentials: "same-origin" };
    const csrf = document.querySelector('meta[name="kiln-csrf"]');
    if (csrf && csrf.content) init.headers["X-CSRF-Token"] = csrf.content;  // the server refuses changes without it
    if (body !== undefined) {
      if (body instanceof Blob || body instanceof Uint8Array || typeof body === "string") {
        init.body = body;
      } else {
        init.body = JSON.stringify(body);
        init.headers["Content-Type"] = "application/json";
      }
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      return { ok: false, status: 0, data: { message: "Could not reach the Kiln server: " + e.message }, text: "" };
    }
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
    return { ok: res.ok, status: res.status, data: data, text: text, type: res.headers.get("content-type") || "" };
  }

  function message(r) {
    if (r.status === 401) return "Your sign-in has expired or the token changed: reload the page and sign in again.";
    if (r.data && r.data.message) return r.data.message;
    return "The server answered " + r.status + ".";
  }

  function show(el, text) {
    if (!el) return;
    el.textContent = text || "";
    el.hidden = !text;
  }

  function badge(value) {
    const span = document.createElement("span");
    span.className = "badge s-" + String(value).toLowerCase();
    span.textContent = value;
    return span;
  }

  function duration(seconds) {
    const s = Math.floor(seconds || 0);
    if (s <= 0) return "—";
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const two = (n) => String(n).padStart(2, "0");
    if (h) return h + " h " + two(m) + " min";
    if (m) return m + " min " + two(r) + " s";
    return r + " s";
  }

  function money(v) {
    if (v > 0 && v < 0.01) return "$" + v.toFixed(4);
    return "$" + v.toFixed(2);
  }

  function escapeXml(text) {
    return String(text).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  }

  // The same drawing as kiln/server/console/charts.py.
  function lineChart(title, points, xLabel) {
    const W = 600, H = 200, L = 52, R = 12, T = 12, B = 24, iw = W - L - R, ih = H - T - B;
    const label = (v) => Number(v.toPrecision(4)).toString();
    let svg = '<svg class="chart" viewBox="0 0 ' + W + " " + H + '" role="img" aria-label="' + escapeXml(title) +
      '" data-points="' + points.length + '"><rect class="frame" x="' + L + '" y="' + T + '" width="' + iw + '" height="' + ih + '"/>';
    if (points.length) {
      const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
      const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
      const sx = (x1 - x0) || 1, sy = (y1 - y0) || 1;
      const coords = points.map((p) => (L + (p[0] - x0) / sx * iw).toFixed(1) + "," + (T + ih - (p[1] - y0) / sy * ih).toFixed(1));
      svg += '<polyline class="line" points="' + coords.join(" ") + '"/>' +
        '<text x="' + (L - 4) + '" y="' + (T + 10) + '" text-anchor="end">' + label(y1) + "</text>" +
        '<text x="' + (L - 4) + '" y="' + (T + ih) + '" text-anchor="end">' + label(y0) + "</text>" +
        '<text x="' + L + '" y="' + (H - 6) + '">' + label(x0) + "</text>" +
        '<text x="' + (W - R) + '" y="' + (H - 6) + '" text-anchor="end">' + label(x1) + " " + escapeXml(xLabel) + "</text>";
      if (points.length === 1) {
        const c = coords[0].split(",");
        svg += '<circle class="dot" cx="' + c[0] + '" cy="' + c[1] + '" r="3"/>';
      }
    } else {
      svg += '<text x="' + W / 2 + '" y="' + H / 2 + '" text-anchor="middle">no values yet</text>';
    }
    return svg + "</svg>";
  }

  // Several series over one time axis (epoch ms): the endpoint's metrics. lineChart's frame, with a
  // legend in the top margin.
  function seriesChart(title, series, x0, x1, unit) {
    const W = 600, H = 210, L = 52, R = 12, T = 24, B = 24, iw = W - L - R, ih = H - T - B;
    const label = (v) => Number(v.toPrecision(4)).toString();
    const clock = (ms) => new Date(ms).toISOString().slice(11, 19);
    const values = series.flatMap((s) => s.points.map((p) => p[1]));
    let svg = '<svg class="chart" viewBox="0 0 ' + W + " " + H + '" role="img" aria-label="' + escapeXml(title) +
      '" data-points="' + values.length + '"><rect class="frame" x="' + L + '" y="' + T + '" width="' + iw + '" height="' + ih + '"/>';
    let legendX = L;
    series.forEach((s, i) => {
      svg += '<text class="series-' + i + '" x="' + legendX + '" y="' + (T - 8) + '">■ ' + escapeXml(s.name) + "</text>";
      legendX += 22 + 7 * s.name.length;
    });
    if (!values.length) {
      return svg + '<text x="' + W / 2 + '" y="' + (T + ih / 2) + '" text-anchor="middle">no invocations yet</text></svg>';
    }
    const y0 = Math.min(0, ...values), y1 = Math.max(...values), sy = (y1 - y0) || 1, sx = (x1 - x0) || 1;
    series.forEach((s, i) => {
      if (!s.points.length) return;
      const coords = s.points.map((p) => (L + (p[0] - x0) / sx * iw).toFixed(1) + "," + (T + ih - (p[1] - y0) / sy * ih).toFixed(1));
      svg += '<polyline class="line series-' + i + '" points="' + coords.join(" ") + '"/>';
      if (s.points.length === 1) {
        const c = coords[0].split(",");
        svg += '<circle class="dot" cx="' + c[0] + '" cy="' + c[1] + '" r="3"/>';
      }
    });
    return svg + '<text x="' + (L - 4) + '" y="' + (T + 10) + '" text-anchor="end">' + label(y1) + "</text>" +
      '<text x="' + (L - 4) + '" y="' + (T + ih) + '" text-anchor="end">' + label(y0) + "</text>" +
      '<text x="' + L + '" y="' + (H - 6) + '">' + clock(x0) + "</text>" +
      '<text x="' + (W - R) + '" y="' + (H - 6) + '" text-anchor="end">' + clock(x1) + " UTC " + escapeXml(unit) + "</text></svg>";
  }

  // -- a training job's page ------------------------------------------------------------------------

  function initJobPage(page) {
    const name = page.dataset.job;
    const base = "/api/v1/training-jobs/" + enc(name);
    const log = $("#log");
    const actionError = $("#action-error");
    let after = Number(page.dataset.nextSeq || 0);
    let terminal = page.dataset.terminal === "1";

    async function pollLogs() {
      for (;;) {
        const r = await api("GET", base + "/logs?after=" + after + "&limit=1000");
        if (!r.ok || !r.data.Events.length) return;
        const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 20;
        log.append(document.createTextNode(r.data.Events.map((e) => e.message + "\n").join("")));
        after = r.data.NextSeq;
        if (atBottom) log.scrollTop = log.scrollHeight;
        if (r.data.Events.length < 1000) return;
      }
    }

    async function pollMetrics() {
      const r = await api("GET", base + "/metrics");
      if (!r.ok || !r.data.Metrics.length) return;
      const start = Math.min(...r.data.Metrics.map((m) => Date.parse(m.Timestamp)));
      const series = new Map();
      const firstHost = r.data.Metrics.map((m) => m.Host).sort()[0]; // one host's curve, as the server draws
      for (const m of r.data.Metrics) {
        if (m.Host !== firstHost) continue;
        if (!series.has(m.MetricName)) series.set(m.MetricName, []);
        series.get(m.MetricName).push([(Date.parse(m.Timestamp) - start) / 1000, m.Value]);
      }
      const charts = $("#charts");
      let html = "";
      for (const [metric, points] of series) {
        html += '<figure class="chart-box" data-metric="' + escapeXml(metric) + '"><figcaption>' + escapeXml(metric) +
          "</figcaption>" + lineChart(metric, points, "seconds") + "</figure>";
      }
      charts.innerHTML = html;
    }

    async function pollStatus() {
      const r = await api("GET", base);
      if (!r.ok) return false;
      const job = r.data;
      $("#job-status").replaceChildren(badge(job.TrainingJobStatus));
      $("#job-secondary").textContent = job.SecondaryStatus;
      $("#training-time").textContent = duration(job.TrainingTimeInSeconds);
      $("#billable-time").textContent = duration(job.BillableTimeInSeconds) + " (" + job.BillableTimeInSeconds + " instance-seconds)";
      $("#job-cost").textContent = money(job.EstimatedCost);
      const timeline = $("#timeline");
      timeline.replaceChildren(...job.SecondaryStatusTransitions.map((t) => {
        const li = document.createElement("li");
        const strong = document.createElement("strong");
        strong.textContent = t.Status;
        li.append(strong, " " + (t.StartTime || "").replace("T", " ").slice(0, 19) + " UTC" + (t.StatusMessage ? " — " + t.StatusMessage : ""));
        return li;
      }));
      return ["Completed", "Failed", "Stopped"].includes(job.TrainingJobStatus);
    }

    async function tick() {
      await pollLogs();
      await pollMetrics();
      const ended = await pollStatus();
      if (ended) {
        await pollLogs();
        await pollMetrics();
        window.location.reload(); // the server renders the final page: artifacts, Deploy, failure reason
        return;
      }
      window.setTimeout(tick, POLL_MS);
    }
    if (!terminal) window.setTimeout(tick, POLL_MS);

    const stop = $("#stop-job");
    if (stop) stop.addEventListener("click", async () => {
      stop.disabled = true;
      const r = await api("POST", base + "/stop");
      show(actionError, r.ok ? "" : message(r));
      stop.disabled = false;
    });

    const deployForm = $("#deploy-form");
    if (deployForm) deployForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = $("button", deployForm);
      button.disabled = true;
      const problem = await deploy(deployForm.dataset.modelData, deployForm.endpoint.value.trim(),
        Number(deployForm.count.value) || 1, deployForm.instance_type.value || "local");
      button.disabled = false;
      show(actionError, problem);
    });
  }

  async function deploy(modelData, endpoint, count, instanceType) {
    if (!endpoint) return "Give the endpoint a name.";
    let r = await api("POST", "/api/v1/models", { ModelName: endpoint, PrimaryContainer: { ModelDataUrl: modelData } });
    if (r.status === 409) {
      const existing = await api("GET", "/api/v1/models/" + enc(endpoint));
      if (!existing.ok || existing.data.PrimaryContainer.ModelDataUrl !== modelData) {
        return "A model named " + endpoint + " already exists for other model data; choose another endpoint name.";
      }
    } else if (!r.ok) {
      return message(r);
    }
    r = await api("POST", "/api/v1/endpoint-configs", {
      EndpointConfigName: endpoint,
      ProductionVariants: [{ VariantName: "AllTraffic", ModelName: endpoint, InitialInstanceCount: count, InstanceType: instanceType, InitialVariantWeight: 1 }],
    });
    if (!r.ok && r.status !== 409) return message(r);
    r = await api("POST", "/api/v1/endpoints", { EndpointName: endpoint, EndpointConfigName: endpoint });
    if (!r.ok) return message(r);
    window.location.href = "/endpoints/" + enc(endpoint);
    return "";
  }

  // -- an endpoint's page ---------------------------------------------------------------------------

  function initEndpointPage(page) {
    const name = page.dataset.endpoint;
    const base = "/api/v1/endpoints/" + enc(name);
    const actionError = $("#action-error");
    const settled = ["InService", "Failed"];
    if (!settled.includes(page.dataset.status)) {
      const poll = async () => {
        const r = await api("GET", base);
        if (r.status === 404) { window.location.href = "/endpoints"; return; }
        if (r.ok && r.data.EndpointStatus !== page.dataset.status) { window.location.reload(); return; }
        window.setTimeout(poll, POLL_MS);
      };
      window.setTimeout(poll, POLL_MS);
    }

    $("#delete-endpoint").addEventListener("click", async () => {
      if (!window.confirm("Delete endpoint " + name + "? Its instances stop; the model and config stay.")) return;
      const r = await api("DELETE", base);
      if (r.ok) window.location.href = "/endpoints";
      else show(actionError, message(r));
    });

    const weights = $("#weights-form");
    weights.addEventListener("submit", async (event) => {
      event.preventDefault();
      const desired = Array.from(weights.querySelectorAll("tr[data-variant]")).map((row) => ({
        VariantName: row.dataset.variant,
        DesiredWeight: Number($("input[name=weight]", row).value),
        DesiredInstanceCount: Number($("input[name=count]", row).value),
      }));
      const r = await api("POST", base + "/weights-and-capacities", { DesiredWeightsAndCapacities: desired });
      if (r.ok) window.location.reload();
      else show($("#error-weights"), message(r));
    });

    initEndpointMetrics(base);

    const form = $("#predict-form");
    const output = $("#prediction");
    let count = 0, total = 0;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = $("button", form);
      button.disabled = true;
      const started = performance.now();
      const r = await api("POST", "/endpoints/" + enc(name) + "/invocations", form.body.value, {
        "Content-Type": form.content_type.value, Accept: form.accept.value,
      });
      const ms = performance.now() - started;
      button.disabled = false;
      count += 1; total += ms;
      $("#stat-count").textContent = String(count);
      $("#stat-latency").textContent = (total / count).toFixed(1) + " ms";
      $("#prediction-meta").textContent = (r.ok ? "OK" : "Error") + " · " + r.status + " · " + ms.toFixed(1) + " ms · " + (r.type || "");
      output.textContent = r.ok ? r.text : message(r);
      output.hidden = false;
      output.classList.toggle("error", !r.ok);
    });
  }

  // The endpoint's metrics (SageMaker's CloudWatch metrics per variant), redrawn every few seconds.
  function initEndpointMetrics(base) {
    const box = $("#metric-charts"), periodSelect = $("#metrics-period"), variantSelect = $("#metrics-variant");
    if (!box) return;
    let timer = null;
    const ms = (latency, key) => (latency ? latency[key] / 1000 : null);

    function draw(data) {
      const period = data.Period * 1000, start = Date.parse(data.StartTime), end = Date.parse(data.EndTime);
      const wanted = variantSelect.value;
      const variant = data.Variants.find((v) => v.VariantName === wanted) || data.Variants[0];
      const points = variant ? variant.Datapoints : [];
      const byTime = new Map(points.map((p) => [Date.parse(p.Timestamp), p]));
      // Periods without invocations are absent: count them as 0 up to the last period already stored.
      const stored = Array.from(byTime.keys());
      const last = Math.max(end - 2 * period, ...stored);
      // The axis starts a little before the first invocation in the window (or at the window's start).
      const first = stored.length ? Math.max(start, Math.min(...stored) - 3 * period) : start;
      const times = [];
      for (let t = first; t <= last; t += period) times.push(t);
      const counts = (key) => times.map((t) => [t, byTime.has(t) ? byTime.get(t)[key] : 0]);
      const latency = (metric, key) => points.filter((p) => p[metric]).map((p) => [Date.parse(p.Timestamp), ms(p[metric], key)]);
      const total = points.reduce((n, p) => n + p.Invocations, 0);
      const charts = [
        ["Invocations", [["Invocations", counts("Invocations")], ["4XX errors", counts("Invocation4XXErrors")], ["5XX errors", counts("Invocation5XXErrors")]], "per period"],
        ["ModelLatency", [["p50", latency("ModelLatency", "p50")], ["p90", latency("ModelLatency", "p90")], ["p99", latency("ModelLatency", "p99")]], "ms"],
        ["OverheadLatency", [["p50", latency("OverheadLatency", "p50")], ["p90", latency("OverheadLatency", "p90")], ["p99", latency("OverheadLatency", "p99")]], "ms"],
        ["InvocationsPerInstance", [["per instance", counts("InvocationsPerInstance")]], "per period"],
      ];
      box.innerHTML = charts.map(([metric, series, unit]) =>
        '<figure class="chart-box" data-metric="' + metric + '" data-total="' + total + '"><figcaption>' + metric +
        (unit === "ms" ? " (ms)" : "") + "</figcaption>" +
        seriesChart(metric, series.map(([name, pts]) => ({ name: name, points: pts })), first, Math.max(last, first), unit) +
        "</figure>").join("");
      $("#metrics-updated").textContent = total + " invocations of " + (variant ? variant.VariantName : "—") +
        " in this window; updated " + new Date().toISOString().slice(11, 19) + " UTC";
    }

    async function refresh() {
      window.clearTimeout(timer);
      const period = Number(periodSelect.value);
      const r = await api("GET", base + "/metrics?period=" + period);
      if (r.ok) draw(r.data);
      else $("#metrics-updated").textContent = message(r);
      timer = window.setTimeout(refresh, period === 10 ? 5000 : 15000);
    }
    periodSelect.addEventListener("change", refresh);
    variantSelect.addEventListener("change", refresh);
    refresh();
  }

  // -- a tuning job's page --------------------------------------------------------------------------

  function initTuningPage(page) {
    const stop = $("#stop-tuning");
    if (!stop) return;
    stop.addEventListener("click", async () => {
      stop.disabled = true;
      const r = await api("POST", "/api/v1/tuning-jobs/" + enc(page.dataset.tuningJob) + "/stop");
      if (r.ok) window.location.reload();
      else { show($("#action-error"), message(r)); stop.disabled = false; }
    });
  }

  // -- lists: while something is in progress, the table is fetched again and swapped in ----------------

  function initAutoRefresh(box) {
    const tick = async () => {
      let res = null;
      try {
        res = await fetch(window.location.href, { credentials: "same-origin" });
      } catch (e) {
        res = null; // the server is away for a moment: try again at the next tick
      }
      if (res && res.ok) {
        const fresh = new DOMParser().parseFromString(await res.text(), "text/html").getElementById(box.id);
        if (!fresh) return; // signed out (the login page came back): stop, the next click shows it
        box.replaceWith(fresh);
        box = fresh;
      }
      if (box.dataset.refresh === "1") window.setTimeout(tick, LIST_POLL_MS);
    };
    window.setTimeout(tick, LIST_POLL_MS);
  }

  // -- a processing job's page: its log as it grows, Stop, and the final page once it ends ---------------

  function initProcessingPage(page) {
    const base = "/api/v1/processing-jobs/" + enc(page.dataset.job);
    const log = $("#log");
    const actionError = $("#action-error");
    let after = Number(page.dataset.nextSeq || 0);

    async function tick() {
      for (;;) {
        const r = await api("GET", base + "/logs?after=" + after + "&limit=1000");
        if (!r.ok || !r.data.Events.length) break;
        log.append(document.createTextNode(r.data.Events.map((e) => e.message + "\n").join("")));
        after = r.data.NextSeq;
        if (r.data.Events.length < 1000) break;
      }
      const r = await api("GET", base);
      if (r.ok && ["Completed", "Failed", "Stopped"].includes(r.data.ProcessingJobStatus)) {
        window.location.reload(); // the server renders the final page: exit message, failure reason
        return;
      }
      if (r.ok) $("#job-status").replaceChildren(badge(r.data.ProcessingJobStatus));
      window.setTimeout(tick, POLL_MS);
    }
    if (page.dataset.terminal !== "1") window.setTimeout(tick, POLL_MS);

    const stop = $("#stop-job");
    if (stop) stop.addEventListener("click", async () => {
      stop.disabled = true;
      const r = await api("POST", base + "/stop");
      show(actionError, r.ok ? "" : message(r));
      stop.disabled = false;
    });
  }

  window.KilnConsole = { api: api, message: message, show: show };

  document.addEventListener("DOMContentLoaded", () => {
    const job = $("#job-page");
    if (job) initJobPage(job);
    const processing = $("#processing-page");
    if (processing) initProcessingPage(processing);
    const endpoint = $("#endpoint-page");
    if (endpoint) initEndpointPage(endpoint);
    const tuning = $("#tuning-page");
    if (tuning) initTuningPage(tuning);
    const form = $("#new-job");
    if (form && window.KilnNewJob) window.KilnNewJob(form);
    document.querySelectorAll("[data-refresh='1']").forEach(initAutoRefresh);
    const tuningForm = $("#new-tuning-job");
    if (tuningForm && window.KilnNewTuningJob) window.KilnNewTuningJob(tuningForm);
  });
})();
