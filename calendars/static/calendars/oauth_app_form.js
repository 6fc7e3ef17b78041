// The OAuth app's add form: the Microsoft-only rows (tenant, calendar write) show only while the
// provider chosen is Microsoft. The server ignores a tenant posted for another provider, so this
// is only a convenience.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const provider = document.getElementById("id_provider");
  const rows = document.querySelectorAll(".field-tenant, .field-needs_calendar_write");
  if (!provider || !rows.length) {
    return;
  }
  const toggle = () => {
    // Through the style, not `hidden`: the admin's CSS gives rows a display of their own.
    for (const row of rows) {
      row.style.display = provider.value === "microsoft" ? "" : "none";
    }
  };
  provider.addEventListener("change", toggle);
  toggle();
});
