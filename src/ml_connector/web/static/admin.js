// The admin UI works without JavaScript; this only adds "select all" for bulk replay.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const master of document.querySelectorAll("input[data-select-all]")) {
    const name = master.getAttribute("data-select-all");
    const boxes = () => master.form.querySelectorAll(`input[type="checkbox"][name="${name}"]`);
    master.addEventListener("change", () => {
      for (const box of boxes()) box.checked = master.checked;
    });
  }
});
