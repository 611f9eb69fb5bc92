// The sign-up form's admin page: send the fields, as typed, to the preview frame, which draws the pop-up.
(function () {
  "use strict";
  var frame = document.getElementById("signup-preview");
  var form = frame && frame.closest("form");
  if (!form) return;
  var options = JSON.parse(document.getElementById("signup-question-options").textContent || "{}");
  function value(name) {
    var field = form.elements[name];
    if (!field) return "";
    return field.type === "checkbox" ? field.checked : field.value;
  }
  function config() {
    var key = value("question_attribute");
    return {
      form: value("slug") || "preview",
      headline: value("headline"),
      offer: value("offer_text"),
      button: value("button_text"),
      disclosure: value("disclosure"),
      country: (value("country") || "US").toUpperCase(),
      calling_code: "",
      ask_email: value("ask_email"),
      question: key && options[key] ? { text: value("question_text") || options[key].label, options: options[key].options } : null,
      trigger: value("trigger"),
      trigger_value: Number(value("trigger_value")) || 0,
      hide_days: Number(value("hide_days_after_close")) || 0,
      thank_you: value("thank_you_text")
    };
  }
  var timer = null;
  function send() {
    clearTimeout(timer);
    timer = setTimeout(function () {
      frame.contentWindow.postMessage({ type: "parley-signup-preview", config: config() }, location.origin);
    }, 150);
  }
  form.addEventListener("input", send);
  form.addEventListener("change", send);
  addEventListener("message", function (event) {
    if (event.origin === location.origin && event.data && event.data.type === "parley-signup-preview-ready") send();
  });
  frame.addEventListener("load", send);
})();
