/**
 * A PNG copy of an SVG picture, rasterised by resvg (the @resvg/resvg-js
 * package, a prebuilt binary from npm; the system's fonts). Untrusted
 * notebooks show PNG where they refuse SVG and HTML. Null where resvg is
 * unavailable: the other representations still show.
 *
 * The pictures are laid out for Helvetica's widths (Graphviz measures its
 * labels with them), so text is drawn in Liberation Sans, which has the same
 * metrics; a wider font such as DejaVu Sans spills out of the graph's boxes.
 */
type Resvg = new (svg: string, options: object) => { render(): { asPng(): Uint8Array } };
let resvg: Resvg | null | undefined;

export function svgToPngBase64(svg: string): string | null {
  if (resvg === undefined) {
    try {
      resvg = (require("@resvg/resvg-js") as { Resvg: Resvg }).Resvg;
    } catch {
      resvg = null;
    }
  }
  if (!resvg) return null;
  try {
    const png = new resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: "Liberation Sans" }, background: "#ffffff" }).render().asPng();
    return Buffer.from(png).toString("base64");
  } catch {
    return null;
  }
}
