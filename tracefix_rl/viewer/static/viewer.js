// TraceFix-RL trajectory viewer: the verify-replay button and the compare picker.
// Text from the server is put into the page with textContent; the one exception is a step's
// observation, an HTML fragment the server rendered with autoescaping (parsed inertly, no scripts).
"use strict";

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function showReplay(box, status, data) {
  box.replaceChildren();
  box.hidden = false;
  if (status !== 200) {
    box.className = "replay-result failed";
    box.append(el("strong", "", "Replay could not run: "), el("span", "", (data && data.detail) || ("HTTP " + status)));
    return;
  }
  if (data.verified) {
    box.className = "replay-result verified";
    box.append(el("strong", "verdict", "VERIFIED"),
      el("span", "", " " + data.steps_checked + " of " + data.steps_total + " steps re-executed and identical; final score " +
        data.final_score_replayed + " (" + data.seconds.toFixed(2) + " s)"));
  } else {
    box.className = "replay-result diverged";
    const link = el("a", "", "step " + data.first_divergence);
    link.href = "#step-" + data.first_divergence;
    box.append(el("strong", "verdict", "DIVERGED"), el("span", "", " at "), link,
      el("span", "", " after " + data.steps_checked + " verified steps"));
    box.append(el("pre", "output replay-diff", data.diff));
  }
  for (const w of data.warnings || []) box.append(el("p", "muted", "warning: " + w));
}

function setupVerify() {
  const button = document.getElementById("verify");
  const box = document.getElementById("replay-result");
  if (!button || !box) return;
  button.addEventListener("click", async () => {
    button.disabled = true;
    box.hidden = false;
    box.className = "replay-result running";
    box.textContent = "Replaying…";
    try {
      const response = await fetch(button.dataset.url, {
        method: "POST", headers: {"X-Requested-With": "tracefix-viewer"}, credentials: "same-origin",
      });
      let data = null;
      try { data = await response.json(); } catch (e) { data = {detail: "the server did not answer with JSON"}; }
      showReplay(box, response.status, data);
    } catch (e) {
      showReplay(box, 0, {detail: String(e)});
    } finally {
      button.disabled = false;
    }
  });
}

function setupCompare() {
  const form = document.getElementById("compare-form");
  if (!form) return;
  const button = document.getElementById("compare-button");
  const picks = Array.from(form.querySelectorAll("input.pick"));
  const update = () => {
    const chosen = picks.filter((p) => p.checked);
    const same = chosen.length === 2 && chosen[0].dataset.task === chosen[1].dataset.task;
    button.disabled = !same;
    button.textContent = chosen.length === 2 && !same ? "Pick two episodes of the same task" : "Compare two episodes";
    document.getElementById("compare-a").value = chosen[0] ? chosen[0].value : "";
    document.getElementById("compare-b").value = chosen[1] ? chosen[1].value : "";
  };
  for (const p of picks) {
    p.addEventListener("change", () => {
      const chosen = picks.filter((q) => q.checked);
      if (chosen.length > 2) {
        for (const q of chosen) if (q !== p) { q.checked = false; break; }
      }
      update();
    });
  }
  update();
}

function setupObservations() {
  for (const box of document.querySelectorAll("details.observation.lazy")) {
    box.addEventListener("toggle", async () => {
      if (!box.open || box.dataset.loaded) return;
      box.dataset.loaded = "1";
      const body = box.querySelector(".obs-body");
      try {
        const response = await fetch(box.dataset.src, {credentials: "same-origin"});
        const doc = new DOMParser().parseFromString(await response.text(), "text/html");
        const part = doc.querySelector(".observation-text") || doc.querySelector("#error-message");
        body.replaceChildren(part ? document.adoptNode(part) : el("p", "action-error", "HTTP " + response.status));
      } catch (e) {
        box.dataset.loaded = "";
        body.replaceChildren(el("p", "action-error", "could not load the observation: " + e));
      }
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  setupObservations();
  setupVerify();
  setupCompare();
});
