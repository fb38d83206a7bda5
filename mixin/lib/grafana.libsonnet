// Building blocks of the Grafana dashboards, as plain objects (no grafonnet).
//
// Every panel and query variable reads the `datasource` variable; every panel
// has a description and a unit (tests/deploy/dashboards/ checks both).
// Positions are [x, y, w, h] on Grafana's 24-column grid.

local datasource = { type: 'prometheus', uid: '${datasource}' };

// Threshold steps: the base colour, then [value, colour] pairs.
local steps(more=[], base='green') =
  [{ color: base, value: null }] + [{ color: s[1], value: s[0] } for s in more];

local thresholds(more=[]) = { mode: 'absolute', steps: steps(more) };

// A value mapping 0 -> `zero` (red), 1 -> `one` (green).
local upDown(zero, one) = [{
  type: 'value',
  options: {
    '0': { text: zero, color: 'red', index: 0 },
    '1': { text: one, color: 'green', index: 1 },
  },
}];

local gridPos(pos) = { x: pos[0], y: pos[1], w: pos[2], h: pos[3] };

local optional(name, value) = if value == null then {} else { [name]: value };

// What every panel has.
local panel(type, id, title, description, pos, targets) = {
  type: type,
  id: id,
  title: title,
  description: description,
  datasource: datasource,
  gridPos: gridPos(pos),
  targets: targets,
};

// A field override: the field named `name` gets the properties, given as
// {id: value} (in the order of the object's keys, as jsonnet sorts them) or as
// a list of {id, value}.
local byName(name, properties) = {
  matcher: { id: 'byName', options: name },
  properties:
    if std.isArray(properties) then properties
    else [{ id: k, value: properties[k] } for k in std.objectFields(properties)],
};

local fixedColor(name, color) =
  byName(name, [{ id: 'color', value: { mode: 'fixed', fixedColor: color } }]);

{
  datasource: datasource,
  steps: steps,
  thresholds: thresholds,
  upDown: upDown,
  byName: byName,
  fixedColor: fixedColor,

  // The colours of the six states, wherever a series or field is named after one.
  stateColors: [
    fixedColor('pending', 'blue'),
    fixedColor('scheduled', 'purple'),
    fixedColor('sent', 'yellow'),
    fixedColor('completed', 'green'),
    fixedColor('dnd', 'orange'),
    fixedColor('error', 'red'),
  ],

  // --- targets ----------------------------------------------------------------

  // A range query (time series, and stats with a sparkline).
  target(expr, legend='__auto', refId='A'): {
    datasource: datasource,
    editorMode: 'code',
    expr: expr,
    legendFormat: legend,
    range: true,
    instant: false,
    refId: refId,
  },

  // An instant query (the current value).
  instant(expr, legend='', refId='A'):
    self.target(expr, legend, refId) + { range: false, instant: true },

  // An instant query whose result is a table; a table panel merges several.
  tableTarget(expr, refId): self.instant(expr, '', refId) + { format: 'table' },

  // --- panels -----------------------------------------------------------------

  stat(id,
       title,
       description,
       pos,
       targets,
       unit='short',
       decimals=null,
       more=[],
       mappings=[],
       colorMode='none',
       graphMode='area',
       textMode='auto'):
    panel('stat', id, title, description, pos, targets) + {
      fieldConfig: {
        defaults: {
          color: { mode: 'thresholds' },
          mappings: mappings,
          thresholds: thresholds(more),
          unit: unit,
        } + optional('decimals', decimals),
        overrides: [],
      },
      options: {
        colorMode: colorMode,
        graphMode: graphMode,
        justifyMode: 'auto',
        orientation: 'auto',
        reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
        showPercentChange: false,
        textMode: textMode,
        wideLayout: true,
      },
    },

  // `more` draws threshold lines (with `thresholdsStyle`); `stacked` fills
  // stacked areas; `stepped` draws steps (for values that change once per poll).
  timeseries(id,
             title,
             description,
             pos,
             targets,
             unit='short',
             more=[],
             thresholdsStyle='off',
             stacked=false,
             stepped=false,
             max=null,
             decimals=null,
             legend='bottom',
             overrides=[]):
    panel('timeseries', id, title, description, pos, targets) + {
      fieldConfig: {
        defaults: {
          color: { mode: 'palette-classic' },
          custom: {
            axisBorderShow: false,
            axisCenteredZero: false,
            axisColorMode: 'text',
            axisLabel: '',
            axisPlacement: 'auto',
            barAlignment: 0,
            drawStyle: 'line',
            fillOpacity: if stacked then 40 else 10,
            gradientMode: 'none',
            hideFrom: { legend: false, tooltip: false, viz: false },
            insertNulls: false,
            lineInterpolation: if stepped then 'stepAfter' else 'linear',
            lineWidth: 1,
            pointSize: 5,
            scaleDistribution: { type: 'linear' },
            showPoints: 'never',
            spanNulls: false,
            stacking: { group: 'A', mode: if stacked then 'normal' else 'none' },
            thresholdsStyle: { mode: thresholdsStyle },
          },
          mappings: [],
          thresholds: thresholds(more),
          unit: unit,
          min: 0,
        } + optional('max', max) + optional('decimals', decimals),
        overrides: overrides,
      },
      options: {
        legend: {
          calcs: ['lastNotNull', 'max'],
          displayMode: 'table',
          placement: legend,
          showLegend: true,
          sortBy: 'Last *',
          sortDesc: true,
        },
        tooltip: { mode: 'multi', sort: 'desc' },
      },
    },

  bargauge(id, title, description, pos, targets, unit='short', overrides=[]):
    panel('bargauge', id, title, description, pos, targets) + {
      fieldConfig: {
        defaults: {
          color: { mode: 'thresholds' },
          mappings: [],
          min: 0,
          thresholds: thresholds(),
          unit: unit,
        },
        overrides: overrides,
      },
      options: {
        displayMode: 'gradient',
        maxVizHeight: 300,
        minVizHeight: 16,
        minVizWidth: 8,
        namePlacement: 'left',
        orientation: 'horizontal',
        reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
        showUnfilled: true,
        sizing: 'auto',
        valueMode: 'color',
      },
    },

  // A table of instant queries (tableTarget) merged into one row per series:
  // `columns` lists [field, header] in display order (fields are labels or
  // `Value #<refId>`), `hide` the fields not shown.
  table(id,
        title,
        description,
        pos,
        targets,
        columns,
        sortBy,
        hide=['Time'],
        overrides=[]):
    panel('table', id, title, description, pos, targets) + {
      fieldConfig: {
        defaults: {
          custom: {
            align: 'auto',
            cellOptions: { type: 'auto' },
            filterable: false,
            inspect: false,
          },
          mappings: [],
          thresholds: thresholds(),
          unit: 'short',
        },
        overrides: overrides,
      },
      options: {
        cellHeight: 'sm',
        footer: { countRows: false, fields: '', reducer: ['sum'], show: false },
        showHeader: true,
        sortBy: [{ desc: true, displayName: sortBy }],
      },
      transformations: [
        { id: 'merge', options: {} },
        {
          id: 'organize',
          options: {
            excludeByName: { [f]: true for f in hide },
            indexByName: { [columns[i][0]]: i for i in std.range(0, std.length(columns) - 1) },
            renameByName: { [c[0]]: c[1] for c in columns if c[1] != null },
          },
        },
      ],
    },

  // --- variables and the dashboard --------------------------------------------

  datasourceVariable: {
    current: {},
    hide: 0,
    includeAll: false,
    label: 'Data source',
    multi: false,
    name: 'datasource',
    options: [],
    query: 'prometheus',
    refresh: 1,
    regex: '',
    skipUrlSync: false,
    type: 'datasource',
  },

  // A multi-value query variable, `All` by default, `query` a label_values(...).
  queryVariable(name, label, description, query, allValue='.*'): {
    current: { selected: true, text: ['All'], value: ['$__all'] },
    datasource: datasource,
    definition: query,
    description: description,
    hide: 0,
    includeAll: true,
    label: label,
    multi: true,
    name: name,
    options: [],
    query: { qryType: 1, query: query, refId: 'PrometheusVariableQueryEditor-VariableQuery' },
    refresh: 2,
    regex: '',
    skipUrlSync: false,
    sort: 1,
    type: 'query',
  } + optional('allValue', allValue),

  dashboard(uid, title, description, variables, panels): {
    annotations: {
      list: [{
        builtIn: 1,
        datasource: { type: 'grafana', uid: '-- Grafana --' },
        enable: true,
        hide: true,
        iconColor: 'rgba(0, 211, 255, 1)',
        name: 'Annotations & Alerts',
        type: 'dashboard',
      }],
    },
    description: description,
    editable: true,
    fiscalYearStartMonth: 0,
    graphTooltip: 1,
    id: null,
    links: [{
      asDropdown: false,
      icon: 'external link',
      includeVars: false,
      keepTime: true,
      tags: ['evolux'],
      targetBlank: false,
      title: 'Evolux dashboards',
      tooltip: '',
      type: 'dashboards',
      url: '',
    }],
    liveNow: false,
    panels: panels,
    refresh: '1m',
    schemaVersion: 39,
    tags: ['evolux', 'whatsapp', 'campaigns'],
    templating: { list: variables },
    time: { from: 'now-6h', to: 'now' },
    timepicker: {},
    timezone: 'browser',
    title: title,
    uid: uid,
    version: 1,
    weekStart: '',
  },
}
