// The timeline picture's detail panel: the numbered badge pointed at or focused is described beside the picture.
// Without JavaScript the picture still works: each badge has a <title>, the browser's own tooltip.
(function () {
  "use strict";
  var panel = document.getElementById("picture-detail");
  var picture = document.querySelector("svg.picture");
  if (!panel || !picture) { return; }
  panel.hidden = false;

  function line(text, cls) {
    var p = document.createElement("p");
    if (cls) { p.className = cls; }
    p.textContent = text;
    return p;
  }

  function show(event) {
    var area = event.target.closest ? event.target.closest("g.event") : null;
    if (!area) { return; }
    var d = area.dataset;
    panel.replaceChildren(line("Key event " + d.number, "detail-number"), line(d.when || "", "muted"),
      line(d.who || "", "detail-who"), line(d.what || "", "detail-what"));
    var current = picture.querySelectorAll("g.event.current");
    for (var i = 0; i < current.length; i++) { current[i].classList.remove("current"); }
    area.classList.add("current");
  }

  picture.addEventListener("mouseover", show);
  picture.addEventListener("focusin", show);
  picture.addEventListener("keydown", function (event) {
    if ((event.key === "Enter" || event.key === " ") && event.target.closest("g.event")) {
      event.preventDefault();
      var target = document.getElementById("key-event-" + event.target.closest("g.event").dataset.number);
      if (target) { target.scrollIntoView({block: "center"}); }
    }
  });
}());
