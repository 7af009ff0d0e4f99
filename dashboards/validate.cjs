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
const schemaError = validator.setSchema(createSchemaBasedOnPresets(preset));
if (schemaError) throw schemaError;

let failed = 0;
const dashboards = readDashboards();
if (dashboards.length === 0) {
    console.error('no dashboards found');
    process.exit(1);
}
for (const { file, definition, problems } of dashboards) {
    if (definition) {
        // The views are written in the layout form Splunk 9.x and 10.x read; this validator
        // version expects the tabs form, into which Splunk Web migrates them on load.
        const migrated = migrateToTabsLayout(JSON.parse(JSON.stringify(definition)));
        for (const error of validator.validate(migrated) || []) {
            problems.push(`validator: ${error.instancePath || error.dataPath || ''} ${error.message}${error.params ? ' ' + JSON.stringify(error.params) : ''}`);
        }
        problems.push(...checkReferences(definition));
    }
    if (problems.length) {
        failed += 1;
        console.log(`FAIL ${file}`);
        for (const problem of problems) console.log(`  ${problem}`);
    } else {
        console.log(`ok   ${file}: ${Object.keys(definition.dataSources).length} data sources, ${Object.keys(definition.visualizations).length} visualizations`);
    }
}
process.exit(failed ? 1 : 0);
