// The page the render test loads: one dashboard definition drawn by Splunk's DashboardCore,
// every search data source answered from fixtures (fixtures.py: the command's real output on
// the sample events). Results for the test are left on window.__t1114.
import React from 'react';
import { createRoot } from 'react-dom/client';
import { DashboardCore } from '@splunk/dashboard-core';
import { DashboardContextProvider } from '@splunk/dashboard-context';
import EnterprisePreset from '@splunk/dashboard-presets/EnterprisePreset';
import CloudPreset from '@splunk/dashboard-presets/CloudPreset';
import TestDataSource from '@splunk/datasources/TestDataSource';
import SplunkThemeProvider from '@splunk/themes/SplunkThemeProvider';
import { migrateToTabsLayout } from '@splunk/dashboard-utils';

const { definition, fixtures, theme } = window.__t1114Input;
const state = { missingFixtures: [], requested: [], validation: [], validationRuns: 0, rendered: false };
window.__t1114 = state;

class FixtureDataSource extends TestDataSource {
    constructor(options, context, ...rest) {
        const fixture = fixtures[context.id];
        if (!fixture) state.missingFixtures.push(context.id);
        else state.requested.push(context.id);
        super(fixture ? { data: JSON.parse(JSON.stringify(fixture)) } : { error: `no fixture for ${context.id}`, errorLevel: 'error' },
            context, ...rest);
    }
}

// One fixture class per data source type, each declaring what Enterprise's own class for that
// type declares (its options schema; which types a chain may extend).
const fixtureClass = (type) => {
    const real = EnterprisePreset.dataSources[type];
    return class extends FixtureDataSource {
        static schema = real.schema;

        static config = real.config;
    };
};

// Enterprise's components, as Splunk Web draws an app's dashboards, except the time-range
// input: Enterprise's asks a live Splunk Web for its presets ("Cannot access splunkweb"),
// the Cloud preset's does not.
const preset = {
    ...EnterprisePreset,
    inputs: { ...EnterprisePreset.inputs, 'input.timerange': CloudPreset.inputs['input.timerange'] },
    dataSources: {
        'ds.search': fixtureClass('ds.search'),
        'ds.chain': fixtureClass('ds.chain'),
        'ds.savedSearch': fixtureClass('ds.savedSearch'),
        'ds.test': TestDataSource,
    },
};

// The validator runs in a Web Worker and answers once per definition: null when it finds
// nothing, else a list of errors (another worker, the token tracer, answers with objects).
// Counting the validator's answers tells the test that validation has run.
const NativeWorker = window.Worker;
window.Worker = class extends NativeWorker {
    constructor(...args) {
        super(...args);
        this.addEventListener('message', (event) => {
            if (event.data === null || Array.isArray(event.data) || event.data instanceof Error) state.validationRuns += 1;
        });
    }
};

document.addEventListener('dashboardCore.rendered', () => { state.rendered = true; });
const migration = migrateToTabsLayout({ definition });
if (!migration.success) state.validation.push(`migration failed: ${migration.reason}`);

createRoot(document.getElementById('root')).render(
    <SplunkThemeProvider family="enterprise" colorScheme={theme} density="comfortable">
        <DashboardContextProvider preset={preset} initialDefinition={migration.definition}>
            <DashboardCore width={1440} height="auto" onValidationError={(message) => state.validation.push(String(message))} />
        </DashboardContextProvider>
    </SplunkThemeProvider>,
);
