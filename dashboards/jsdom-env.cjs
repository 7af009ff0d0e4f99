// Splunk's presets touch `window`, `document` and a few browser globals when they are
// imported; the validator itself needs none. A jsdom window gives them in Node.
const { JSDOM } = require('jsdom');

const dom = new JSDOM('<!doctype html><html><body></body></html>', { url: 'http://localhost/' });
const { window } = dom;
const names = ['window', 'document', 'navigator', 'HTMLElement', 'Element', 'Node', 'getComputedStyle',
    'requestAnimationFrame', 'cancelAnimationFrame', 'MutationObserver', 'DOMParser', 'CustomEvent',
    'Event', 'KeyboardEvent', 'MouseEvent', 'localStorage', 'sessionStorage', 'location', 'self',
    'matchMedia', 'ResizeObserver', 'SVGElement', 'Image', 'XMLHttpRequest', 'devicePixelRatio',
    'HTMLCanvasElement', 'Blob', 'FileReader', 'screen', ]
globalThis.addEventListener = window.addEventListener.bind(window);
globalThis.removeEventListener = window.removeEventListener.bind(window);
globalThis.dispatchEvent = window.dispatchEvent.bind(window);
for (const name of names) {
    // Node's own Event classes are not jsdom's: jsdom's dispatchEvent takes only its own.
    if (!(name in globalThis) || globalThis[name] === undefined || /Event$/.test(name)) {
        try {
            Object.defineProperty(globalThis, name, { value: window[name], configurable: true, writable: true });
        } catch (error) {
            // Node's own global of that name (navigator in Node 21+) is kept.
        }
    }
}
const matchMedia = () => ({ matches: false, addListener() {}, removeListener() {}, addEventListener() {}, removeEventListener() {} });
window.matchMedia = window.matchMedia || matchMedia;
globalThis.matchMedia = globalThis.matchMedia || matchMedia;
globalThis.requestAnimationFrame = globalThis.requestAnimationFrame || ((callback) => setTimeout(callback, 0));
globalThis.cancelAnimationFrame = globalThis.cancelAnimationFrame || ((id) => clearTimeout(id));
globalThis.ResizeObserver = globalThis.ResizeObserver || class { observe() {} unobserve() {} disconnect() {} };
// The SPL editor bundled in the presets registers Ace on the global object and then reads it
// back from `window`: one place for both.
Object.defineProperty(window, 'ace', { get: () => globalThis.ace, set: (value) => { globalThis.ace = value; }, configurable: true });
// A chart library's stylesheet is require()d by the compiled presets; Node cannot parse CSS.
require.extensions['.css'] = () => {};
// The map visualization builds its worker from a Blob URL at import; no worker runs here.
window.URL.createObjectURL = window.URL.createObjectURL || (() => 'blob:http://localhost/none');
window.URL.revokeObjectURL = window.URL.revokeObjectURL || (() => {});
