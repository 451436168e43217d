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
});
