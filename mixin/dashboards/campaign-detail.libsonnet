// The dashboard in dashboards/evolux-campaign-detail.json.
local g = import '../lib/grafana.libsonnet';
local baseline = import 'baseline.libsonnet';
local progress = import 'progress.libsonnet';

function(config)
  local c = (import 'common.libsonnet')(config);
  g.dashboard(
    'evolux-campaign-detail',
    'Evolux campaign detail',
    'One or more Evolux Chat campaigns and templates: funnel, states over time, errors per template.',
    c.variables(template=true),
    [
      g.stat(
        1,
        'Subscribers',
        'Subscribers of the selected campaigns and templates (inserted within the poll window), all states. ' + c.notes.refreshed,
        [0, 0, 4, 4],
        [g.target(c.e('sum(evolux_campaign_subscribers{%(m)s, campaign=~"$campaign", template=~"$template"})'))],
      ),
      g.stat(
        2,
        'Backlog',
        'Subscribers waiting to be dispatched: pending + scheduled.',
        [4, 0, 4, 4],
        [g.target(c.e('sum(evolux_campaign_subscribers{%(m)s, campaign=~"$campaign", template=~"$template", state=~"pending|scheduled"})'))],
      ),
      g.stat(
        3,
        'Completion rate',
        'completed / processed over the poll window. Processed = sent + completed + dnd + error (every subscriber that left the queue).',
        [8, 0, 4, 4],
        [g.target(c.e(|||
          sum(evolux_campaign_subscribers{%(m)s, campaign=~"$campaign", template=~"$template", state="completed"})
          /
            (sum(evolux_campaign_subscribers{%(m)s, campaign=~"$campaign", template=~"$template", state=~"sent|completed|dnd|error"}) > 0)
        |||))],
        unit='percentunit',
        decimals=1,
      ),
      g.stat(
        4,
        'DND share',
        'dnd / processed over the poll window. Processed = sent + completed + dnd + error (every subscriber that left the queue).',
        [12, 0, 4, 4],
        [g.target(c.e(|||
          sum(evolux_campaign_subscribers{%(m)s, campaign=~"$campaign", template=~"$template", state="dnd"})
          /
            (sum(evolux_campaign_subscribers{%(m)s, campaign=~"$campaign", template=~"$template", state=~"sent|completed|dnd|error"}) > 0)
        |||))],
        unit='percentunit',
        decimals=1,
      ),
      g.stat(
        5,
        'Errors in the last hour',
        'Subscribers that ended in error during the last hour. ' + c.notes.growth,
        [16, 0, 4, 4],
        [g.target(c.e('sum(campaign_template:evolux_subscribers_error:delta1h{%(m)s, campaign=~"$campaign", template=~"$template"})'))],
        decimals=0,
        more=[[1, 'orange']],
        colorMode='value',
      ),
      g.stat(
        6,
        'Error ratio (last hour)',
        'New errors / newly processed in the last hour. ' + c.notes.levels + ' ' + c.notes.growth,
        [20, 0, 4, 4],
        [g.target(c.e(|||
          sum(campaign_template:evolux_subscribers_error:delta1h{%(m)s, campaign=~"$campaign", template=~"$template"})
          /
            (sum(campaign_template:evolux_subscribers_processed:delta1h{%(m)s, campaign=~"$campaign", template=~"$template"}) > 0)
        |||))],
        unit='percentunit',
        decimals=1,
        more=c.errorLevels,
        colorMode='value',
      ),
      g.bargauge(
        7,
        'Funnel by state',
        'Current subscribers of the selected campaigns and templates in each state, in the order of the funnel: pending -> scheduled -> sent -> completed; dnd and error are the exits. ' + c.notes.refreshed,
        [0, 4, 8, 10],
        [
          g.instant(c.e('sum(evolux_campaign_subscribers{%(m)s, campaign=~"$campaign", template=~"$template", state="pending"})'), 'pending'),
          g.instant(c.e('sum(evolux_campaign_subscribers{%(m)s, campaign=~"$campaign", template=~"$template", state="scheduled"})'), 'scheduled', 'B'),
          g.instant(c.e('sum(evolux_campaign_subscribers{%(m)s, campaign=~"$campaign", template=~"$template", state="sent"})'), 'sent', 'C'),
          g.instant(c.e('sum(evolux_campaign_subscribers{%(m)s, campaign=~"$campaign", template=~"$template", state="completed"})'), 'completed', 'D'),
          g.instant(c.e('sum(evolux_campaign_subscribers{%(m)s, campaign=~"$campaign", template=~"$template", state="dnd"})'), 'dnd', 'E'),
          g.instant(c.e('sum(evolux_campaign_subscribers{%(m)s, campaign=~"$campaign", template=~"$template", state="error"})'), 'error', 'F'),
        ],
        overrides=g.stateColors,
      ),
      g.timeseries(
        8,
        'Subscribers by state over time',
        'Subscribers of the selected campaigns and templates in each state, stacked. States outside the documented six show up under their own name. ' + c.notes.refreshed,
        [8, 4, 16, 10],
        [g.target(c.e('sum by (state) (evolux_campaign_subscribers{%(m)s, campaign=~"$campaign", template=~"$template"})'), '{{state}}')],
        stacked=true,
        legend='right',
        overrides=g.stateColors,
      ),
      g.timeseries(
        9,
        'Error ratio per template (last hour)',
        'New errors / newly processed in the last hour, per campaign and template. ' + c.notes.levels + ' ' + c.notes.growth,
        [0, 14, 12, 8],
        [g.target(c.namedT(|||
          sum by (campaign, template) (campaign_template:evolux_subscribers_error:delta1h{%(m)s, campaign=~"$campaign", template=~"$template"})
          /
            (sum by (campaign, template) (campaign_template:evolux_subscribers_processed:delta1h{%(m)s, campaign=~"$campaign", template=~"$template"}) > 0)
        |||), '{{campaign_name}} / {{template_name}}')],
        unit='percentunit',
        more=c.errorLevels,
        thresholdsStyle='line+area',
      ),
      g.timeseries(
        10,
        'Errors in the last hour per template',
        'Subscribers that ended in error during the last hour, per campaign and template. ' + c.notes.growth,
        [12, 14, 12, 8],
        [g.target(c.namedT('sum by (campaign, template) (campaign_template:evolux_subscribers_error:delta1h{%(m)s, campaign=~"$campaign", template=~"$template"})'), '{{campaign_name}} / {{template_name}}')],
        decimals=0,
      ),
      g.timeseries(
        11,
        'Completion rate per template',
        'completed / processed per campaign and template, over the poll window. Processed = sent + completed + dnd + error (every subscriber that left the queue).',
        [0, 22, 12, 8],
        [g.target(c.namedT(|||
          sum by (campaign, template) (evolux_campaign_subscribers{%(m)s, campaign=~"$campaign", template=~"$template", state="completed"})
          /
            (sum by (campaign, template) (evolux_campaign_subscribers{%(m)s, campaign=~"$campaign", template=~"$template", state=~"sent|completed|dnd|error"}) > 0)
        |||), '{{campaign_name}} / {{template_name}}')],
        unit='percentunit',
        max=1,
      ),
      g.timeseries(
        12,
        'Backlog per template (pending + scheduled)',
        'Subscribers waiting to be dispatched, per campaign and template.',
        [12, 22, 12, 8],
        [g.target(c.namedT('sum by (campaign, template) (evolux_campaign_subscribers{%(m)s, campaign=~"$campaign", template=~"$template", state=~"pending|scheduled"})'), '{{campaign_name}} / {{template_name}}')],
      ),
      g.table(
        13,
        'Templates',
        'One row per campaign and template: names (from evolux_campaign_info and evolux_template_info, or the UUID when unknown), current counts and ratios. Error ratio (window) is errors / processed over the whole poll window; the last-hour columns come from the recording rules of deploy/prometheus/evolux-rules.yml.',
        [0, 30, 24, 9],
        [
          g.tableTarget(c.namedT('sum by (campaign, template) (evolux_campaign_subscribers{%(m)s, campaign=~"$campaign", template=~"$template"})'), 'A'),
          g.tableTarget(c.namedT('sum by (campaign, template) (evolux_campaign_subscribers{%(m)s, campaign=~"$campaign", template=~"$template", state=~"pending|scheduled"})'), 'B'),
          g.tableTarget(c.namedT(|||
            sum by (campaign, template) (evolux_campaign_subscribers{%(m)s, campaign=~"$campaign", template=~"$template", state="completed"})
            /
              (sum by (campaign, template) (evolux_campaign_subscribers{%(m)s, campaign=~"$campaign", template=~"$template", state=~"sent|completed|dnd|error"}) > 0)
          |||), 'C'),
          g.tableTarget(c.namedT(|||
            sum by (campaign, template) (evolux_campaign_subscribers{%(m)s, campaign=~"$campaign", template=~"$template", state="error"})
            /
              (sum by (campaign, template) (evolux_campaign_subscribers{%(m)s, campaign=~"$campaign", template=~"$template", state=~"sent|completed|dnd|error"}) > 0)
          |||), 'D'),
          g.tableTarget(c.namedT('sum by (campaign, template) (campaign_template:evolux_subscribers_error:delta1h{%(m)s, campaign=~"$campaign", template=~"$template"})'), 'E'),
          g.tableTarget(c.namedT(|||
            sum by (campaign, template) (campaign_template:evolux_subscribers_error:delta1h{%(m)s, campaign=~"$campaign", template=~"$template"})
            /
              (sum by (campaign, template) (campaign_template:evolux_subscribers_processed:delta1h{%(m)s, campaign=~"$campaign", template=~"$template"}) > 0)
          |||), 'F'),
        ],
        columns=[
          ['campaign_name', 'Campaign'],
          ['template_name', 'Template'],
          ['template', 'Template UUID'],
          ['Value #A', 'Subscribers'],
          ['Value #B', 'Backlog'],
          ['Value #C', 'Completion rate'],
          ['Value #D', 'Error ratio (window)'],
          ['Value #E', 'Errors (1h)'],
          ['Value #F', 'Error ratio (1h)'],
        ],
        sortBy='Subscribers',
        hide=['Time', 'campaign'],
        overrides=[
          g.byName('Completion rate', [{ id: 'unit', value: 'percentunit' }, { id: 'decimals', value: 1 }]),
          g.byName('Error ratio (window)', [{ id: 'unit', value: 'percentunit' }, { id: 'decimals', value: 1 }]),
          g.byName('Errors (1h)', { decimals: 0 }),
          g.byName('Error ratio (1h)', [
            { id: 'unit', value: 'percentunit' },
            { id: 'decimals', value: 1 },
            { id: 'custom.cellOptions', value: { type: 'color-background' } },
            { id: 'thresholds', value: g.thresholds(c.errorLevels) },
          ]),
        ],
      ),
    ] + progress.detail(c, 39) + baseline.detail(c, config, 47),
  )
