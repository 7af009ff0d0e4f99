// The app's Dashboard Studio definitions, read from the view files Splunk reads.
const fs = require('fs');
const path = require('path');

const VIEWS = path.join(__dirname, '..', 'default', 'data', 'ui', 'views');

function readDashboards() {
    return fs.readdirSync(VIEWS).filter((name) => name.endsWith('.xml')).sort().map((file) => {
        const xml = fs.readFileSync(path.join(VIEWS, file), 'utf8');
        const name = file.replace(/\.xml$/, '');
        const root = xml.match(/^<dashboard\s+([^>]*)>/);
        const version = root && root[1].match(/version="([^"]*)"/);
        const body = xml.match(/<definition><!\[CDATA\[([\s\S]*?)\]\]><\/definition>/);
        const problems = [];
        if (!version || version[1] !== '2') problems.push(`${file}: not a Dashboard Studio view (<dashboard version="2">)`);
        let definition = null;
        if (!body) {
            problems.push(`${file}: no <definition><![CDATA[...]]></definition>`);
        } else {
            try {
                definition = JSON.parse(body[1]);
            } catch (error) {
                problems.push(`${file}: the definition is not JSON: ${error.message}`);
            }
        }
        return { name, file, definition, problems };
    });
}

// What the validator does not check: every data source a visualization or input names, and
// every base a chain extends, exists; every data source is used; every visualization and input
// is placed in the layout and every layout item exists.
function checkReferences(definition) {
    const problems = [];
    const dataSources = definition.dataSources || {};
    const used = new Set();
    const owners = { ...(definition.visualizations || {}), ...(definition.inputs || {}) };
    for (const [id, item] of Object.entries(owners)) {
        for (const [role, dsId] of Object.entries(item.dataSources || {})) {
            if (!(dsId in dataSources)) problems.push(`${id} names data source ${dsId} (${role}), which does not exist`);
            used.add(dsId);
        }
    }
    for (const [id, ds] of Object.entries(dataSources)) {
        if (ds.type === 'ds.chain') {
            const base = ds.options && ds.options.extend;
            if (!(base in dataSources)) problems.push(`chain ${id} extends ${base}, which does not exist`);
            used.add(base);
        }
    }
    for (const id of Object.keys(dataSources)) {
        if (!used.has(id)) problems.push(`data source ${id} is used by no visualization, input or chain`);
    }
    const layout = definition.layout || {};
    const placed = new Set([...(layout.structure || []).map((entry) => entry.item), ...(layout.globalInputs || [])]);
    for (const id of placed) {
        if (!(id in owners)) problems.push(`the layout places ${id}, which is neither a visualization nor an input`);
    }
    for (const id of Object.keys(owners)) {
        if (!placed.has(id)) problems.push(`${id} is not placed in the layout`);
    }
    return problems;
}

module.exports = { readDashboards, checkReferences, VIEWS };
