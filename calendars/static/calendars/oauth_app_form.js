// The OAuth app's add form: the tenant row shows only while the provider chosen is Microsoft.
// The server ignores a tenant posted for another provider, so this is only a convenience.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const provider = document.getElementById("id_provider");
  const tenantRow = document.querySelector(".field-tenant");
  if (!provider || !tenantRow) {
    return;
  }
  const toggle = () => {
    // Through the style, not `hidden`: the admin's CSS gives rows a display of their own.
    tenantRow.style.display = provider.value === "microsoft" ? "" : "none";
  };
  provider.addEventListener("change", toggle);
  toggle();
});
