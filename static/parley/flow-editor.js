// The flow editor: light up the node the simulator's pretend shopper is at, on its card and in the diagram.
// The simulator names it (data-current-node); cards, diagram and simulator are each drawn again by htmx, so this
// runs after every swap. (A <style> drawn with the node's id would be simpler, but the Content-Security-Policy
// allows no inline styles.)
(() => {
  const light = () => {
    const marker = document.querySelector("#simulator [data-current-node]");
    const node = marker ? marker.dataset.currentNode : null;
    document.querySelectorAll(".sim-current").forEach((element) => element.classList.remove("sim-current"));
    if (!node) return;
    const card = document.getElementById(`card-${node}`);
    if (card) card.classList.add("sim-current");
    document
      .querySelectorAll(`#flow-diagram [data-node="${CSS.escape(node)}"]`)
      .forEach((element) => element.classList.add("sim-current"));
  };
  document.addEventListener("htmx:afterSettle", light);
  light(); // deferred: runs once the page is parsed
})();
