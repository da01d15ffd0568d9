/**
 * Browser stand-in for @resvg/resvg-js, a native Node module that core's `renderSpecToPng` imports
 * lazily. Pages render plots with vega-embed instead, so this is never called in the site; if it
 * were, it says why.
 */
export class Resvg {
  constructor() {
    throw new Error('renderSpecToPng: @resvg/resvg-js is a native Node module; in a browser render plots with vega-embed');
  }
}
export default { Resvg };
