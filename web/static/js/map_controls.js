/* The maps' zoom buttons, in Dutch and working from the keyboard (WCAG 2.1.1, 3.1.2): Leaflet's
 * buttons are links with role="button", which Enter follows but Space does not; here Space
 * presses them too. Used by action_form.js and action_live.js instead of the default control. */
(function () {
  "use strict";
  window.BurgernetMap = {
    addZoom: function (map) {
      L.control.zoom({ zoomInTitle: "Inzoomen", zoomOutTitle: "Uitzoomen" }).addTo(map);
      map.getContainer().querySelectorAll(".leaflet-control-zoom a").forEach(function (button) {
        button.addEventListener("keydown", function (e) {
          if (e.key === " " || e.key === "Spacebar") { e.preventDefault(); button.click(); }
        });
      });
    }
  };
})();
