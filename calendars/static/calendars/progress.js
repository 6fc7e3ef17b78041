// Keeps a bulk job's progress page current without reloading it, until the job finishes.
(function () {
  "use strict";
  const box = document.getElementById("job-progress");
  if (!box || box.dataset.finished === "1") {
    return;
  }
  const set = (id, value) => { document.getElementById(id).textContent = value; };
  async function poll() {
    try {
      const response = await fetch(box.dataset.url, { credentials: "same-origin" });
      if (response.ok) {
        const p = await response.json();
        document.getElementById("progress-fill").style.width = p.percent + "%";
        set("progress-percent", p.percent + "%");
        set("progress-done", p.done);
        set("progress-failed", p.failed);
        set("progress-pending", p.pending);
        if (p.finished) {
          // Reload once to show the failures and the re-run button.
          window.location.reload();
          return;
        }
      }
    } catch (error) {
      set("progress-state", "Connection lost, retrying…");
    }
    window.setTimeout(poll, 1000);
  }
  window.setTimeout(poll, 1000);
})();
