// Copies the customer's ticket summary to the clipboard. Without a clipboard (a page served over
// plain HTTP has none) it selects the text, so Ctrl+C finishes the job.
(function () {
  "use strict";
  const button = document.getElementById("copy-summary");
  if (!button) {
    return;
  }
  const source = document.getElementById(button.dataset.source);
  const status = document.getElementById("copy-summary-status");
  button.addEventListener("click", async function () {
    try {
      await navigator.clipboard.writeText(source.value);
      status.textContent = "Copied.";
    } catch (error) {
      source.focus();
      source.select();
      status.textContent = "Selected: press Ctrl+C to copy.";
    }
  });
})();
