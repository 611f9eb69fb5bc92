// The segment builder. After each edit htmx draws the rows again (#builder is swapped) and puts the
// focus back on the input with the same id, but the new input holds the value as the server read it:
// keystrokes typed while the refresh was on its way, or a trailing space or comma, would be lost, and
// a number input gets its caret at the start (typing 9, a pause, then 0 would give 9, not 90).
// So the input being typed in keeps the person's text, with the caret at its end.
(() => {
  let typing = null;
  document.addEventListener("htmx:beforeSwap", (event) => {
    const input = document.activeElement;
    const typed = input instanceof HTMLInputElement && input.id && !["checkbox", "radio"].includes(input.type);
    typing = typed && event.detail.target.contains(input) ? { id: input.id, value: input.value } : null;
  });
  document.addEventListener("htmx:afterSwap", () => {
    const input = typing && document.getElementById(typing.id);
    if (input instanceof HTMLInputElement && input === document.activeElement) {
      if (input.type === "number" || input.value !== typing.value) {
        input.value = ""; // setting the value again puts the caret at the end
        input.value = typing.value;
      }
    }
    typing = null;
  });
  // Enter in a row's input would submit (and save) the whole form: in the rules it only ends the typing.
  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && event.target instanceof HTMLInputElement && event.target.closest("#builder")) {
      event.preventDefault();
    }
  });
})();
