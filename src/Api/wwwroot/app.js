// The page for people: choose or drop images, pick a decoding, press Caption.
// Plain browser JavaScript, no build step, nothing loaded from elsewhere.
"use strict";

(() => {
  const form = document.getElementById("caption-form");
  const input = document.getElementById("images");
  const dropZone = document.getElementById("drop-zone");
  const gallery = document.getElementById("gallery");
  const galleryEmpty = document.getElementById("gallery-empty");
  const button = document.getElementById("caption-button");
  const clearButton = document.getElementById("clear-button");
  const message = document.getElementById("form-message");
  const modelStatus = document.getElementById("model-status");
  const modelNotice = document.getElementById("model-notice");
  const template = document.getElementById("card-template");

  /** One entry per image in the gallery: { file, card, done }. */
  const entries = [];
  const PARALLEL = 4;

  // --- model status -------------------------------------------------------

  async function checkModel() {
    try {
      const ready = await fetch("/health/ready", { cache: "no-store" });
      if (!ready.ok) {
        // Why not yet, as the readiness check says it ("downloading model 43% (...)", "loading model").
        const reason = (await ready.json().catch(() => null))?.checks?.model?.description;
        setStatus(`The model is not ready yet${reason ? ` (${reason})` : ""}; captions can be asked for once it is.`, "not-ready");
        setTimeout(checkModel, 2000);
        return;
      }
      const model = await fetch("/model", { cache: "no-store" });
      if (model.ok) {
        const m = await model.json();
        const commit = m.hub ? `, commit ${m.hub.commit.slice(0, 7)}` : "";
        setStatus(`Model ${m.id} is ready (${m.device}, ${m.dtype}${commit}).`, "ready");
        modelNotice.textContent = m.notice ?? "";
        modelNotice.hidden = !m.notice;
      } else {
        setStatus("The model is ready.", "ready");
      }
    } catch {
      setStatus("The service cannot be reached.", "not-ready");
      setTimeout(checkModel, 5000);
    }
  }

  function setStatus(text, kind) {
    modelStatus.textContent = text;
    modelStatus.className = `status ${kind}`;
  }

  // --- decoding options ---------------------------------------------------

  function strategy() {
    return form.querySelector("input[name=decoding]:checked").value;
  }

  function showOptions() {
    const s = strategy();
    for (const field of form.querySelectorAll(".field[data-for]")) field.hidden = field.dataset.for !== s;
  }

  /** The form fields sent with every image (only those that apply to the chosen strategy). */
  function decodingFields() {
    const s = strategy();
    const fields = [["decoding", s]];
    const add = (name) => {
      const value = document.getElementById(name).value.trim();
      if (value !== "") fields.push([name, value]);
    };
    if (s === "sample") ["temperature", "top_p", "seed"].forEach(add);
    if (s === "beam") add("num_beams");
    add("max_tokens");
    return fields;
  }

  // --- gallery ------------------------------------------------------------

  function addFiles(files) {
    const images = [...files].filter((f) => f.size > 0);
    if (images.length === 0) return;
    message.textContent = "";
    for (const file of images) {
      const card = template.content.firstElementChild.cloneNode(true);
      const preview = card.querySelector(".preview");
      preview.src = URL.createObjectURL(file);
      preview.alt = `Preview of ${file.name}`;
      card.querySelector(".file-name").textContent = file.name;
      setCardState(card, "pending", "Ready to caption.");
      gallery.append(card);
      entries.push({ file, card, done: false });
    }
    galleryEmpty.hidden = entries.length > 0;
  }

  function setCardState(card, state, text) {
    card.dataset.state = state;
    card.classList.toggle("failed", state === "failed");
    card.querySelector(".state").textContent = text;
    card.setAttribute("aria-busy", state === "working" ? "true" : "false");
  }

  function clearGallery() {
    for (const entry of entries) URL.revokeObjectURL(entry.card.querySelector(".preview").src);
    entries.length = 0;
    gallery.replaceChildren();
    galleryEmpty.hidden = false;
    message.textContent = "";
    input.value = "";
  }

  function showCaption(card, answer) {
    card.querySelector(".caption").textContent = answer.caption;
    card.querySelector(".error").textContent = "";
    const timings = card.querySelector(".timings");
    timings.replaceChildren();
    // Whatever timings the service reports, in its order.
    for (const [name, ms] of Object.entries(answer.timings_ms ?? {})) {
      const dt = document.createElement("dt");
      dt.textContent = name.replaceAll("_", " ");
      const dd = document.createElement("dd");
      dd.textContent = typeof ms === "number" ? `${ms.toFixed(1)} ms` : String(ms);
      timings.append(dt, dd);
    }
    const d = answer.decoding ?? {};
    const details = Object.entries(d)
      .filter(([name]) => name !== "strategy")
      .map(([name, value]) => `${name.replaceAll("_", " ")} ${value}`);
    card.querySelector(".decoding").textContent =
      [d.strategy, ...details].filter(Boolean).join(", ") + (answer.model?.id ? ` · model ${answer.model.id}` : "");
  }

  function showError(card, text) {
    card.querySelector(".caption").textContent = "";
    card.querySelector(".timings").replaceChildren();
    card.querySelector(".decoding").textContent = "";
    card.querySelector(".error").textContent = text;
  }

  // --- talking to the API -------------------------------------------------

  /** A problem-details answer (RFC 7807) in plain words. */
  async function describeError(response) {
    let problem = null;
    try {
      problem = await response.json();
    } catch {
      // not JSON: fall back to the status
    }
    const lead = {
      400: "The service could not use this request.",
      401: "This service needs an API key.",
      408: "The upload took too long.",
      413: "The image is too large.",
      415: "This file is not an image the service can read.",
      429: "Too many requests right now.",
      500: "The service failed on this image.",
      503: "The service is busy or still loading.",
    }[response.status] ?? `The service answered with an error (${response.status}).`;
    const parts = [lead];
    if (problem?.errors && typeof problem.errors === "object") {
      for (const [field, messages] of Object.entries(problem.errors))
        parts.push(`${field}: ${[].concat(messages).join(" ")}`);
    } else if (problem?.detail) {
      parts.push(problem.detail);
    } else if (problem?.title) {
      parts.push(problem.title);
    }
    const retry = response.headers.get("Retry-After");
    if (retry) parts.push(`Try again in ${retry} s.`);
    return parts.join(" ");
  }

  async function captionOne(entry, fields) {
    const body = new FormData();
    body.append("image", entry.file, entry.file.name);
    for (const [name, value] of fields) body.append(name, value);
    setCardState(entry.card, "working", "Captioning\u2026");
    try {
      const response = await fetch("/captions", { method: "POST", body });
      if (response.ok) {
        showCaption(entry.card, await response.json());
        setCardState(entry.card, "done", "");
        entry.done = true;
      } else {
        showError(entry.card, await describeError(response));
        setCardState(entry.card, "failed", "");
      }
    } catch {
      showError(entry.card, "The service could not be reached. Is it running?");
      setCardState(entry.card, "failed", "");
    }
  }

  async function captionAll(event) {
    event.preventDefault();
    if (entries.length === 0) {
      message.textContent = "Choose or drop at least one image first.";
      input.focus();
      return;
    }
    message.textContent = "";
    // Images not captioned yet; when every one is, caption them all again (new options, say).
    let todo = entries.filter((e) => !e.done);
    if (todo.length === 0) todo = [...entries];
    const fields = decodingFields();
    button.disabled = true;
    try {
      const queue = [...todo];
      const workers = Array.from({ length: Math.min(PARALLEL, queue.length) }, async () => {
        while (queue.length > 0) await captionOne(queue.shift(), fields);
      });
      await Promise.all(workers);
    } finally {
      button.disabled = false;
    }
  }

  // --- wiring -------------------------------------------------------------

  input.addEventListener("change", () => {
    addFiles(input.files);
    input.value = ""; // the same file can be chosen again
  });
  for (const radio of form.querySelectorAll("input[name=decoding]")) radio.addEventListener("change", showOptions);
  form.addEventListener("submit", captionAll);
  clearButton.addEventListener("click", clearGallery);

  for (const name of ["dragenter", "dragover"]) {
    dropZone.addEventListener(name, (e) => {
      e.preventDefault();
      dropZone.classList.add("dragging");
    });
  }
  for (const name of ["dragleave", "drop"]) {
    dropZone.addEventListener(name, () => dropZone.classList.remove("dragging"));
  }
  dropZone.addEventListener("drop", (e) => {
    e.preventDefault();
    addFiles(e.dataTransfer.files);
  });
  // A drop anywhere else must not navigate away from the page.
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());

  showOptions();
  checkModel();
})();
