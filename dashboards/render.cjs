// Every dashboard drawn by Splunk's DashboardCore in headless Chromium (Debian's chromium,
// driven by puppeteer-core: no browser download), each search data source answered from the
// fixtures fixtures.py built from the t1114 command's output on the sample events. Fails on a
// page error, a failed request, a validation message, a data source with no fixture, a panel
// still loading or showing an error, or a dashboard that never finishes drawing. Saves a
// screenshot of each in screenshots/ (or $T1114_SCREENSHOTS).
//
//   node render.cjs [dashboard name ...]       needs build/fixtures.json (python fixtures.py)
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const esbuild = require('esbuild');
const puppeteer = require('puppeteer-core');
const { readDashboards } = require('./definitions.cjs');

const HERE = __dirname;
const BUILD = path.join(HERE, 'build');
const SCREENSHOTS = process.env.T1114_SCREENSHOTS || path.join(HERE, 'screenshots');
const CHROMIUM = process.env.T1114_CHROMIUM || '/usr/bin/chromium';
// Polls of the page before a dashboard counts as never finished (one poll every 250 ms).
const MAX_POLLS = 240;
const PAGE = '<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head>'
    + '<body style="margin:0"><div id="root"></div><script src="/page.js"></script></body></html>';

async function bundle() {
    await esbuild.build({
        entryPoints: [path.join(HERE, 'page.jsx')],
        bundle: true,
        outfile: path.join(BUILD, 'page.js'),
        format: 'iife',
        jsx: 'automatic',
        // Fonts and images inline: the page asks the server for nothing but itself and its script.
        loader: { '.js': 'jsx', '.css': 'empty', '.svg': 'dataurl', '.png': 'dataurl', '.woff': 'dataurl', '.woff2': 'dataurl' },
        define: { 'process.env.NODE_ENV': '"production"', global: 'window' },
        logLevel: 'error',
    });
}

function serve() {
    const script = fs.readFileSync(path.join(BUILD, 'page.js'));
    const server = http.createServer((request, response) => {
        const url = new URL(request.url, 'http://127.0.0.1');
        if (url.pathname === '/') {
            response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
            response.end(PAGE);
        } else if (url.pathname === '/page.js') {
            response.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
            response.end(script);
        } else {
            response.writeHead(404);
            response.end();
        }
    });
    return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// Each visualization's state as drawn: still loading, showing an error or a message
// instead of data, or drawn.
function panelStates() {
    return [...document.querySelectorAll('[data-test="viz-item"]')].map((item) => {
        const id = item.closest('[data-id]')?.getAttribute('data-id') || item.getAttribute('data-id') || '?';
        const text = item.innerText || '';
        const loading = item.querySelector('[data-test*="wait"], [data-test*="loading"], [data-test*="spinner"], [role="progressbar"]');
        const error = item.querySelector('[data-test*="error"], [data-test="viz-message"]');
        return { id, loading: Boolean(loading), error: error ? (error.innerText || error.getAttribute('data-test')) : null,
            text: text.slice(0, 200) };
    });
}

// A fixture ending in `| table a b c` must have exactly those columns, in that order: the
// fixture is what that SPL returns, not what a panel happens to draw well.
function fixtureColumnProblems(definition, fixtures) {
    const problems = [];
    for (const [id, ds] of Object.entries(definition.dataSources)) {
        const query = (ds.options && ds.options.query) || '';
        const last = query.split('|').pop().trim();
        const fixture = fixtures[id];
        if (!fixture || !/^table\s/.test(last) || /[*\]]/.test(last)) continue;
        const columns = last.split(/\s+/).slice(1).join(' ');
        const names = fixture.fields.map((field) => field.name).join(' ');
        if (columns !== names) problems.push(`fixture ${id} has columns [${names}], its query's table [${columns}]`);
    }
    return problems;
}

async function renderOne(browser, port, dashboard, fixtures, screenshots = SCREENSHOTS, maxPolls = MAX_POLLS) {
    const problems = [];
    const page = await browser.newPage();
    await page.setViewport({ width: 1440, height: 900 });
    page.on('pageerror', (error) => problems.push(`page error: ${String(error).slice(0, 500)}`));
    page.on('requestfailed', (request) => problems.push(`request failed: ${request.url().slice(0, 200)} ${request.failure()?.errorText}`));
    page.on('response', (response) => {
        if (response.status() >= 400) problems.push(`HTTP ${response.status()} for ${response.url().slice(0, 200)}`);
    });
    const theme = /theme="dark"/.test(fs.readFileSync(dashboard.path, 'utf8')) ? 'dark' : 'light';
    await page.evaluateOnNewDocument((input) => { window.__t1114Input = input; },
        { definition: dashboard.definition, fixtures: fixtures.fixtures, theme });
    // Tokens as Splunk Web passes them, in the URL (form.<token>=value): the drilldowns to
    // the Investigation dashboard open it so.
    const query = new URLSearchParams(Object.entries(fixtures.tokens).map(([name, value]) => [`form.${name}`, value]));
    await page.goto(`http://127.0.0.1:${port}/?${query}`, { waitUntil: 'load' });
    let state = null;
    let panels = [];
    for (let poll = 0; poll < maxPolls; poll += 1) {
        state = await page.evaluate(() => window.__t1114 && JSON.parse(JSON.stringify(window.__t1114)));
        panels = await page.evaluate(panelStates);
        const settled = state && state.rendered && state.validationRuns > 0 && panels.length > 0 && panels.every((p) => !p.loading);
        if (settled || problems.length) break;
        await new Promise((resolve) => setTimeout(resolve, 250));
    }
    if (!state || !state.rendered) problems.push('DashboardCore never reported the dashboard drawn (dashboardCore.rendered)');
    if (state && state.validationRuns === 0) problems.push("Splunk's validator never answered");
    for (const message of (state && state.validation) || []) problems.push(`validation: ${message}`);
    for (const id of (state && state.missingFixtures) || []) problems.push(`data source ${id} has no fixture`);
    const expected = Object.keys(dashboard.definition.visualizations).length;
    if (panels.length !== expected) problems.push(`${panels.length} panels drawn, ${expected} defined`);
    for (const panel of panels) {
        if (panel.loading) problems.push(`panel ${panel.id} still loading: ${panel.text}`);
        if (panel.error) problems.push(`panel ${panel.id} shows an error: ${panel.error}`);
    }
    problems.push(...fixtureColumnProblems(dashboard.definition, fixtures.fixtures));
    const dataSources = Object.keys(dashboard.definition.dataSources);
    const unused = Object.keys(fixtures.fixtures).filter((id) => !dataSources.includes(id));
    for (const id of unused) problems.push(`fixture ${id} answers no data source of the dashboard`);
    fs.mkdirSync(screenshots, { recursive: true });
    const screenshot = path.join(screenshots, `${dashboard.name}.png`);
    await page.screenshot({ path: screenshot, fullPage: true });
    await page.close();
    return { problems, screenshot, panels: panels.length, requested: state ? state.requested.length : 0 };
}

async function main() {
    const fixturesFile = path.join(BUILD, 'fixtures.json');
    if (!fs.existsSync(fixturesFile)) throw new Error(`${fixturesFile} is missing: run python dashboards/fixtures.py first`);
    const allFixtures = JSON.parse(fs.readFileSync(fixturesFile, 'utf8'));
    const only = process.argv.slice(2);
    const dashboards = readDashboards().filter((d) => !only.length || only.includes(d.name));
    await bundle();
    const server = await serve();
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 't1114-chromium-'));
    const browser = await puppeteer.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
            '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`],
    });
    let failed = 0;
    try {
        for (const dashboard of dashboards) {
            const problems = [...dashboard.problems];
            let result = { screenshot: null, panels: 0, requested: 0 };
            if (!allFixtures[dashboard.name]) problems.push(`no fixtures for ${dashboard.name} in ${fixturesFile}`);
            else if (dashboard.definition) {
                result = await renderOne(browser, server.address().port, { ...dashboard, path: path.join(require('./definitions.cjs').VIEWS, dashboard.file) },
                    allFixtures[dashboard.name]);
                problems.push(...result.problems);
            }
            if (problems.length) {
                failed += 1;
                console.log(`FAIL ${dashboard.file}`);
                for (const problem of problems) console.log(`  ${problem}`);
            } else {
                console.log(`ok   ${dashboard.file}: ${result.panels} panels drawn, ${result.requested} data sources answered, ${path.relative(process.cwd(), result.screenshot)}`);
            }
        }
        // The checks must be able to fail: a copy of the first dashboard with a panel on a data
        // source that has no fixture, one whose token nobody sets, and a table option of the
        // wrong type (a validation message) must be refused.
        const canary = dashboards.find((d) => d.definition && allFixtures[d.name]);
        if (canary && !process.env.T1114_SKIP_CANARY) {
            const definition = JSON.parse(JSON.stringify(canary.definition));
            definition.dataSources.ds_canary_no_fixture = { type: 'ds.search', options: { query: '| makeresults' } };
            definition.dataSources.ds_canary_waiting = { type: 'ds.search', options: { query: '| makeresults | eval x="$canary_unset$"' } };
            definition.visualizations.viz_canary_no_fixture = { type: 'splunk.table', dataSources: { primary: 'ds_canary_no_fixture' } };
            definition.visualizations.viz_canary_waiting = { type: 'splunk.table', dataSources: { primary: 'ds_canary_waiting' },
                options: { count: 'many' } };
            definition.layout.structure.push(
                { item: 'viz_canary_no_fixture', type: 'block', position: { x: 0, y: 5000, w: 720, h: 200 } },
                { item: 'viz_canary_waiting', type: 'block', position: { x: 720, y: 5000, w: 720, h: 200 } },
            );
            const result = await renderOne(browser, server.address().port,
                { ...canary, name: 'canary', definition, path: path.join(require('./definitions.cjs').VIEWS, canary.file) },
                allFixtures[canary.name], os.tmpdir(), 40);
            const caught = ['data source ds_canary_no_fixture has no fixture', 'panel viz_canary_waiting still loading',
                'validation: /visualizations/viz_canary_waiting/options/count']
                .filter((wanted) => !result.problems.some((problem) => problem.startsWith(wanted)));
            if (caught.length) {
                failed += 1;
                console.log(`FAIL the render checks missed: ${caught.join('; ')}`);
            } else {
                console.log('ok   the render checks refuse a panel without a fixture, a panel left loading and a validation message');
            }
        }
    } finally {
        await browser.close();
        server.close();
        fs.rmSync(profile, { recursive: true, force: true });
    }
    process.exit(failed ? 1 : 0);
}

main().catch((error) => {
    console.error(error);
    process.exit(1);
});
