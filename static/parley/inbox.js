// The inbox. htmx polls the thread and swaps the conversation after each action; two things a person
// would otherwise lose each time:
// - the place in the thread: a swapped-in thread starts scrolled to the top (the oldest texts), so the
//   newest would sit out of sight. The thread opens at its newest text and stays there as texts come in,
//   unless the agent scrolled up to read older ones (then that place is kept);
// - the reply being written: adding a note, assigning or marking pending draws the reply box again.
//   What was typed stays, except after the reply was sent or a canned response was picked (the server
//   fills the box then, and gives back a refused reply's text itself).
(() => {
  const NEAR = 40; // px from the bottom that still counts as "at the newest text"
  let thread = null;
  let draft = null;

  const toNewest = () => {
    const list = document.getElementById("thread");
    if (list) list.scrollTop = list.scrollHeight;
  };

  document.addEventListener("htmx:beforeSwap", (event) => {
    const list = document.getElementById("thread");
    thread = list
      ? { top: list.scrollTop, atNewest: list.scrollHeight - list.scrollTop - list.clientHeight <= NEAR }
      : null;
    const box = document.getElementById("reply-body");
    const path = event.detail.pathInfo ? event.detail.pathInfo.requestPath : "";
    const fills = /\/reply\/$|\/canned\/\d+\/$/.test(path);
    draft = box && !fills && event.detail.target.contains(box) && box.value ? box.value : null;
  });

  document.addEventListener("htmx:afterSwap", () => {
    const list = document.getElementById("thread");
    if (list && thread) list.scrollTop = thread.atNewest ? list.scrollHeight : thread.top;
    const box = document.getElementById("reply-body");
    if (box && draft !== null && !box.value) {
      box.value = draft;
      htmx.trigger(box, "input"); // count it again
    }
    thread = draft = null;
  });

  // A canned response picked from the list fills the reply box (the server draws it with the text).
  document.addEventListener("change", (event) => {
    const select = event.target.closest("select[data-canned]");
    if (select && select.value) htmx.ajax("GET", select.value, { target: "#reply-box", swap: "outerHTML" });
  });

  toNewest(); // deferred: runs once the page is parsed
})();
