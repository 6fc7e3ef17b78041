// The OAuth app's add form: each provider's fieldset ("Microsoft apps only", "Google apps only")
// shows only while that provider is chosen. The server ignores what is posted for the other
// provider, and without this script the fieldsets' titles say whose they are.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const provider = document.getElementById("id_provider");
  const fieldsets = document.querySelectorAll("fieldset[class*='provider-']");
  if (!provider || !fieldsets.length) {
    return;
  }
  const toggle = () => {
    // Through the style, not `hidden`: the admin's CSS gives fieldsets a display of their own.
    for (const fieldset of fieldsets) {
      const shown = fieldset.classList.contains(`provider-${provider.value}`);
      fieldset.style.display = shown ? "" : "none";
    }
  };
  provider.addEventListener("change", toggle);
  toggle();
});
