// The results page: ask before a form marked data-confirm is sent (Cancel), since no inline onsubmit may.
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
});

// The compose page: show as many text boxes as variants chosen, and the A/B settings only for two or more.
document.addEventListener("change", (event) => {
  const select = event.target.closest("[data-variant-count]");
  if (!select) return;
  const count = Number(select.value);
  document.querySelectorAll("[data-variant]").forEach((row) => {
    row.hidden = Number(row.dataset.variant) > count;
  });
  document.querySelectorAll("[data-weight], [data-ab-only]").forEach((element) => {
    element.hidden = count < 2;
  });
  // An even split to start from; the store changes it as it likes.
  document.querySelectorAll("[data-variant]").forEach((row, index) => {
    const weight = row.querySelector("input[type=number]");
    if (weight) weight.value = index < count ? Math.floor(100 / count) + (index < 100 % count ? 1 : 0) : "";
  });
});
