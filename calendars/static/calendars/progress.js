// Keeps a bulk job's progress page current without reloading it, until the job finishes.
(function () {
  "use strict";
  const box = document.getElementById("job-progress");
  if (!box || box.dataset.finished === "1") {
    return;
  }
  const set = (id, value) => { document.getElementById(id).textContent = value; };
  const width = (id, part, total) => {
    document.getElementById(id).style.width = (total ? (100 * part) / total : 0) + "%";
  };
  async function poll() {
    try {
      const response = await fetch(box.dataset.url, { credentials: "same-origin" });
      if (response.ok) {
        const p = await response.json();
        width("progress-fixed-bar", p.fixed, p.total);
        width("progress-not-fixed-bar", p.not_fixed, p.total);
        width("progress-failed-bar", p.failed, p.total);
        set("progress-percent", p.percent + "%");
        set("progress-fixed", p.fixed);
        set("progress-not-fixed", p.not_fixed);
        set("progress-failed", p.failed);
        set("progress-pending", p.pending);
        set("progress-summary", p.summary);
        if (p.finished) {
          // Reload once to show each integration's outcome and the re-run button.
          window.location.reload();
          return;
        }
        set("progress-state", "Running…");
      }
    } catch (error) {
      set("progress-state", "Connection lost, retrying…");
    }
    window.setTimeout(poll, 1000);
  }
  window.setTimeout(poll, 1000);
})();
