// One stylesheet for every view, injected into the page the first time a view renders: the same code runs in
// the classic notebook, JupyterLab and exported HTML, and none of them bundles a .css file the same way.
// Colours are JupyterLab's theme variables (so the dark theme stays readable), with the light values as
// fallbacks where they are not defined (the classic notebook, exported HTML).

const CSS = `
.fz-widget { font: 13px/1.4 var(--jp-ui-font-family, system-ui, sans-serif); color: var(--jp-ui-font-color1, #222); display: flex; flex-direction: column; gap: 6px; padding: 4px 0; max-width: 100%; }
.fz-title { font-weight: 600; }
.fz-row { display: flex; gap: 6px; align-items: center; flex-wrap: wrap; }
.fz-frames { display: flex; gap: 8px; flex-wrap: wrap; }
.fz-frames figure { margin: 0; display: flex; flex-direction: column; align-items: center; gap: 2px; }
.fz-frames img, .fz-frames canvas { max-width: 320px; height: auto; image-rendering: auto; border: 1px solid var(--jp-border-color1, #ccc); }
.fz-chip { border: 1px solid var(--jp-border-color1, #999); border-radius: 12px; background: var(--jp-layout-color2, #f4f4f4); color: inherit; padding: 1px 8px; cursor: pointer; font: inherit; }
.fz-chip.fz-selected { background: var(--jp-brand-color1, #1f6feb); border-color: var(--jp-brand-color1, #1f6feb); color: #fff; }
.fz-muted { color: var(--jp-ui-font-color2, #666); font-size: 12px; }
.fz-error { color: var(--jp-error-color1, #b00020); font-weight: 600; }
.fz-error:empty { display: none; }
.fz-error-box { border: 1px solid var(--jp-error-color1, #b00020); background: var(--jp-error-color3, #fdecee); padding: 4px 8px; border-radius: 4px; }
.fz-legend { display: flex; gap: 6px; align-items: center; }
.fz-legend canvas { width: 160px; height: 10px; border: 1px solid var(--jp-border-color1, #ccc); }
.fz-widget input, .fz-widget select, .fz-widget button { color: var(--jp-ui-font-color1, inherit); background: var(--jp-layout-color1, revert); border-color: var(--jp-border-color1, revert); }
.fz-widget input[type=number] { width: 5em; }
.fz-widget input[type=range] { width: 180px; flex: 0 0 auto; margin: 0; }
.fz-widget input[type=text] { width: 32em; max-width: 100%; }
.fz-grid { display: grid; grid-template-columns: max-content 1fr; gap: 4px 10px; align-items: center; }
`;

let injected = false;

/** Add the widgets' stylesheet to the document once. */
export function injectStyle(): void {
  if (injected || typeof document === "undefined") return;
  injected = true;
  const style = document.createElement("style");
  style.dataset.fatezeroWidgets = "";
  style.textContent = CSS;
  document.head.append(style);
}
