// Every dashboard definition checked by Splunk's own validator (@splunk/dashboard-validation)
// against the schema the Enterprise preset's components declare, plus the references the
// validator does not check (see definitions.cjs). Exits 1 on any problem.
require('./jsdom-env.cjs');
const { DashboardValidator } = require('@splunk/dashboard-validation');
const { createSchemaBasedOnPresets } = require('@splunk/dashboard-definition');
const { migrateToTabsLayout } = require('@splunk/dashboard-utils');
const EnterprisePreset = require('@splunk/dashboard-presets/EnterprisePreset');
const { readDashboards, checkReferences } = require('./definitions.cjs');

const preset = EnterprisePreset.default || EnterprisePreset;
const validator = new DashboardValidator();
// Ajv's strict-mode notes about Splunk's own schema are not about these dashboards.
const warn = console.warn;
console.warn = (...args) => { if (!String(args[0]).startsWith('strict mode:')) warn(...args); };
const schemaError = validator.setSchema(createSchemaBasedOnPresets(preset));
if (schemaError) throw schemaError;

function validatorErrors(definition) {
    // The views are written in the layout form Splunk 9.x and 10.x read; this validator
    // version expects the tabs form, into which Splunk Web migrates them on load.
    const migration = migrateToTabsLayout({ definition: JSON.parse(JSON.stringify(definition)) });
    if (!migration.success) return [`migration to the tabs layout failed: ${migration.reason}`];
    return (validator.validate(migration.definition) || []).map((error) =>
        `validator: ${error.instancePath || ''} ${error.message}${error.params ? ' ' + JSON.stringify(error.params).slice(0, 300) : ''}`);
}

let failed = 0;
const dashboards = readDashboards();
if (dashboards.length === 0) {
    console.error('no dashboards found');
    process.exit(1);
}
for (const { file, definition, problems } of dashboards) {
    if (definition) {
        problems.push(...validatorErrors(definition), ...checkReferences(definition));
    }
    if (problems.length) {
        failed += 1;
        console.log(`FAIL ${file}`);
        for (const problem of problems) console.log(`  ${problem}`);
    } else {
        console.log(`ok   ${file}: ${Object.keys(definition.dataSources).length} data sources, ${Object.keys(definition.visualizations).length} visualizations`);
    }
}
// The checks themselves must be able to fail: a copy of a dashboard with an unknown
// visualization type and a visualization naming a missing data source must be refused.
const broken = JSON.parse(JSON.stringify(dashboards.find((d) => d.definition).definition));
const [firstViz] = Object.keys(broken.visualizations);
broken.visualizations[firstViz].type = 'splunk.no_such_visualization';
broken.visualizations[firstViz].dataSources = { primary: 'ds_no_such_source' };
if (validatorErrors(broken).length === 0 || checkReferences(broken).length === 0) {
    console.log('FAIL the validator or the reference check accepted a broken definition');
    failed += 1;
}
process.exit(failed ? 1 : 0);
