// The page of `python -m model.serve`: choose or drop a video, ask questions, show frames and answers.
// Plain JavaScript, no build step, nothing loaded from elsewhere. Text from the server or the video is
// always set with textContent, never parsed as HTML.
"use strict";

const state = { model: null, file: null, busy: false };
const byId = (id) => document.getElementById(id);

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function showError(message) {
  const box = byId("error");
  box.textContent = message || "";
  box.hidden = !message;
}

function megabytes(bytes) {
  if (bytes < 1024 * 1024) return Math.max(1, Math.round(bytes / 1024)) + " KB";
  return (bytes / (1024 * 1024)).toFixed(bytes < 10 * 1024 * 1024 ? 1 : 0) + " MB";
}

function questionsTyped() {
  return byId("questions-input").value.split("\n").map((line) => line.trim()).filter((line) => line);
}

function candidatesTyped() {
  return Array.from(document.querySelectorAll("#candidate-inputs input")).map((input) => input.value.trim());
}

function updateButton() {
  const needsCandidates = state.model && state.model.task === "multiple_choice";
  const candidatesReady = !needsCandidates || candidatesTyped().every((text) => text);
  byId("ask-button").disabled = state.busy || !state.model || !state.file || !questionsTyped().length ||
    !candidatesReady;
}

function describeModel(model) {
  const parts = [model.task.replace(/_/g, " ") + " model", "backbone " + model.backbone,
    model.feature_dim + " features per frame"];
  if (model.video_encoder) parts.push(model.video_encoder + " video encoder");
  const vocabulary = model.vocabulary || {};
  Object.keys(vocabulary).forEach((name) => parts.push(vocabulary[name] + " " + name.replace(/_/g, " ")));
  byId("model-summary").textContent = parts.join(" · ");
  if (model.cnn_note) {
    byId("cnn-note").textContent = "CNN: " + model.cnn_note;
    byId("cnn-note").hidden = false;
  }
  if (model.task === "multiple_choice") {
    const holder = byId("candidate-inputs");
    for (let index = 0; index < model.num_candidates; index += 1) {
      const input = element("input");
      input.type = "text";
      input.placeholder = "candidate " + (index + 1);
      input.setAttribute("aria-label", "candidate " + (index + 1));
      input.addEventListener("input", updateButton);
      holder.appendChild(input);
    }
    byId("candidates-fieldset").hidden = false;
  }
}

function chooseFile(file) {
  showError("");
  if (!file) return;
  if (state.model && file.size > state.model.max_upload_bytes) {
    state.file = null;
    showError(file.name + " is " + megabytes(file.size) + ": this service takes at most " +
      megabytes(state.model.max_upload_bytes) + ".");
  } else {
    state.file = file;
    byId("drop-text").textContent = file.name + " (" + megabytes(file.size) + ")";
  }
  updateButton();
}

function renderFrames(result) {
  const frames = byId("frames");
  frames.replaceChildren();
  const video = result.video;
  byId("video-summary").textContent = video.filename + ": " + video.num_frames + " frames sampled of " +
    video.total_frames + " (" + video.duration.toFixed(1) + " s, " + video.width + "×" + video.height + ")";
  // Frame weights, when the model attends over frames: those of the first question that has them.
  const weighted = result.answers.find((answer) => Array.isArray(answer.frame_weights));
  const weights = weighted ? weighted.frame_weights : null;
  const largest = weights ? Math.max(...weights, 1e-9) : 1;
  (result.thumbnails || []).forEach((url, index) => {
    const figure = element("figure", "frame");
    const image = element("img");
    image.src = url;
    image.alt = "frame at " + result.frame_times[index].toFixed(2) + " s";
    figure.appendChild(image);
    figure.appendChild(element("figcaption", "frame-time", result.frame_times[index].toFixed(2) + " s"));
    if (weights) {
      const bar = element("div", "weight");
      bar.title = "weight " + weights[index].toFixed(3);
      const fill = element("span");
      fill.style.width = (100 * weights[index] / largest).toFixed(1) + "%";
      bar.appendChild(fill);
      figure.appendChild(bar);
    }
    frames.appendChild(figure);
  });
  byId("frames-section").hidden = false;
}

function renderAnswers(result) {
  const holder = byId("answers");
  holder.replaceChildren();
  result.answers.forEach((answer) => {
    const block = element("article", "question");
    block.appendChild(element("h3", null, answer.question));
    if (typeof answer.count === "number") {
      block.appendChild(element("div", "count-value", answer.count.toFixed(2)));
      block.appendChild(element("p", "muted", "rounded: " + answer.answers[0].answer));
    } else {
      const ranked = element("div", "ranked");
      answer.answers.forEach((item, rank) => {
        ranked.appendChild(element("span", rank === 0 ? "answer-text best" : "answer-text", item.answer));
        const bar = element("div", "bar");
        const fill = element("span");
        fill.style.width = (100 * item.probability).toFixed(1) + "%";
        bar.appendChild(fill);
        ranked.appendChild(bar);
        ranked.appendChild(element("span", "probability", (100 * item.probability).toFixed(1) + "%"));
      });
      block.appendChild(ranked);
    }
    holder.appendChild(block);
  });
  byId("answers-section").hidden = false;
}

async function ask(event) {
  event.preventDefault();
  if (byId("ask-button").disabled) return;
  showError("");
  const form = new FormData();
  form.append("video", state.file, state.file.name);
  questionsTyped().forEach((question) => form.append("question", question));
  if (state.model.task === "multiple_choice") candidatesTyped().forEach((text) => form.append("candidate", text));
  state.busy = true;
  updateButton();
  byId("status").textContent = "Uploading and answering…";
  const started = performance.now();
  try {
    const response = await fetch("/v1/answer?thumbnails=1", { method: "POST", body: form });
    const result = await response.json().catch(() => ({ error: "the service answered " + response.status }));
    if (!response.ok) throw new Error(result.error || ("the service answered " + response.status));
    renderFrames(result);
    renderAnswers(result);
    byId("status").textContent = "Answered in " + ((performance.now() - started) / 1000).toFixed(2) + " s";
  } catch (error) {
    byId("status").textContent = "";
    showError(error.message);
  } finally {
    state.busy = false;
    updateButton();
  }
}

function setUpDropZone() {
  const zone = byId("drop-zone");
  ["dragenter", "dragover"].forEach((name) => zone.addEventListener(name, (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  }));
  ["dragleave", "drop"].forEach((name) => zone.addEventListener(name, (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
  }));
  zone.addEventListener("drop", (event) => chooseFile(event.dataTransfer.files[0]));
  byId("video-input").addEventListener("change", (event) => chooseFile(event.target.files[0]));
}

async function start() {
  setUpDropZone();
  byId("questions-input").addEventListener("input", updateButton);
  byId("ask-form").addEventListener("submit", ask);
  try {
    const response = await fetch("/v1/model");
    if (!response.ok) throw new Error("GET /v1/model answered " + response.status);
    state.model = await response.json();
    describeModel(state.model);
  } catch (error) {
    byId("model-summary").textContent = "";
    showError("Cannot read the model's description: " + error.message);
  }
  updateButton();
}

document.addEventListener("DOMContentLoaded", start);
