// The trace page's waterfall: a span's name opens its attributes, events and log records (rendered by the
// server, hidden until asked for).
(function () {
  "use strict";
  var waterfall = document.querySelector(".dcm-waterfall");
  if (!waterfall) return;
  waterfall.addEventListener("click", function (event) {
    var button = event.target.closest(".dcm-span-name");
    if (!button) return;
    var details = button.parentElement.nextElementSibling;
    var open = details.hasAttribute("hidden");
    details.toggleAttribute("hidden", !open);
    button.setAttribute("aria-expanded", String(open));
  });
})();
