// Outbreak's only script: progressive extras that pages work without.
"use strict";

// Keep the citizen's personal QR available offline.
if ("serviceWorker" in navigator && document.querySelector("[data-offline-cache]")) {
  navigator.serviceWorker.register("/sw.js").catch(() => {});
}

document.addEventListener("DOMContentLoaded", () => {
  // Print buttons on QR cards.
  for (const button of document.querySelectorAll(".print-button")) {
    button.addEventListener("click", () => window.print());
  }
  // Load a chosen CSV file into the textarea the form submits.
  for (const input of document.querySelectorAll("input.csv-file")) {
    input.addEventListener("change", async () => {
      const file = input.files && input.files[0];
      const target = document.getElementById(input.dataset.target);
      if (file && target) target.value = await file.text();
    });
  }
  // Results files go to the API as they are, and the per-row report comes back.
  for (const form of document.querySelectorAll("form.upload-registrations")) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      uploadRegistrations(form);
    });
  }
  for (const form of document.querySelectorAll("form.upload")) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      uploadResults(form);
    });
  }
});

// Posts a chosen file to the form's API as it is. Answers the JSON body, or null after
// showing in `report` why there is none (the network, or the API's error under `errorId`).
async function postFile(form, file, report, errorId) {
  report.textContent = "…";
  let body;
  try {
    const response = await fetch(form.dataset.api + "?filename=" + encodeURIComponent(file.name), {
      method: "POST",
      headers: { "X-CSRF-Token": form.dataset.csrf, "Content-Type": "application/octet-stream" },
      body: file,
    });
    body = await response.json();
  } catch (error) {
    report.textContent = String(error);
    return null;
  }
  report.replaceChildren();
  if (body.error) {
    const p = document.createElement("p");
    p.className = "error";
    p.id = errorId;
    p.textContent = body.error.message;
    report.append(p);
    return null;
  }
  return body;
}

async function uploadResults(form) {
  const file = form.querySelector("input[type=file]").files[0];
  const report = document.getElementById("upload-report");
  if (!file || !report) return;
  const words = report.dataset;
  const body = await postFile(form, file, report, "upload-error");
  if (!body) return;
  const summary = document.createElement("p");
  summary.id = "upload-summary";
  summary.className = "notice";
  summary.dataset.recorded = body.recorded;
  summary.dataset.unchanged = body.unchanged;
  summary.dataset.refused = body.refused;
  summary.textContent = `${body.rows} ${words.rows}: ${body.recorded} ${words.recorded}, ${body.unchanged} ${words.unchanged}, ${body.refused} ${words.refused}`;
  report.append(summary);
  if (body.problems.length) {
    const table = document.createElement("table");
    table.id = "upload-problems";
    const head = table.insertRow();
    for (const title of [words.row, words.barcode, words.problem]) {
      const th = document.createElement("th");
      th.textContent = title;
      head.append(th);
    }
    for (const problem of body.problems) {
      const row = table.insertRow();
      for (const text of [problem.index, problem.barcode, problem.message]) row.insertCell().textContent = text;
    }
    report.append(table);
  }
}

// An organisation's registration list goes to the API as it is; every row comes back with
// what became of it.
async function uploadRegistrations(form) {
  const file = form.querySelector("input[type=file]").files[0];
  const report = document.getElementById("registration-report");
  if (!file || !report) return;
  const words = report.dataset;
  const body = await postFile(form, file, report, "registration-error");
  if (!body) return;
  const summary = document.createElement("p");
  summary.id = "registration-summary";
  summary.className = "notice";
  summary.textContent = ["registered", "matched", "already_registered", "refused"]
    .map((s) => `${body[s]} ${words[s]}`).join(", ");
  report.append(summary);
  const table = document.createElement("table");
  table.id = "registration-rows";
  const head = table.insertRow();
  for (const title of [words.row, words.name, words.outcome]) {
    const th = document.createElement("th");
    th.textContent = title;
    head.append(th);
  }
  for (const item of body.items) {
    const row = table.insertRow();
    row.dataset.status = item.status;
    const outcome = words[item.status] + (item.message ? ": " + item.message : "");
    for (const text of [item.line, item.full_name, outcome]) row.insertCell().textContent = text;
  }
  report.append(table);
}
