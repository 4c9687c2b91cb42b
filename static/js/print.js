// The print button on printable sheets (no inline script: the pages run under a CSP).
document.getElementById("print-button")?.addEventListener("click", () => window.print());
