/* The planner's pages share one layout (plan.css): the panel at the right on a wide screen, a
   sheet over the lower half on a phone. A map fitted to its data leaves the panel's side free,
   wherever the panel is. */
window.gridmapPanelPadding = function (map) {
    var panel = document.querySelector('.gp-side'), box = map.getContainer().getBoundingClientRect();
    var p = panel ? panel.getBoundingClientRect() : null, pad = {paddingTopLeft: [20, 20], animate: false};
    if (p && p.left <= box.left + 1 && p.top > box.top) {  // a sheet at the foot
        pad.paddingBottomRight = [20, Math.round(box.bottom - p.top) + 20];
    } else {
        pad.paddingBottomRight = [p ? Math.round(box.right - p.left) + 10 : 20, 20];
    }
    return pad;
};
