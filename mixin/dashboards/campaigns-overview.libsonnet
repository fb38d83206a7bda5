// The dashboard in dashboards/evolux-campaigns-overview.json.
local g = import '../lib/grafana.libsonnet';
local baseline = import 'baseline.libsonnet';
local progress = import 'progress.libsonnet';

function(config)
  local c = (import 'common.libsonnet')(config);
  g.dashboard(
    'evolux-overview',
    'Evolux campaigns overview',
    'All Evolux Chat WhatsApp campaigns at a glance: subscribers by state, completion, errors, backlog.',
    c.variables(template=false, view=true),
    [
      g.stat(
        1,
        'Subscribers',
        'Subscribers of the selected campaigns (inserted within their poll window), all states. ' + c.notes.refreshed,
        [0, 0, 4, 4],
        [g.target(c.e('sum(evolux_campaign_subscribers{%(m)s, campaign=~"$campaign"})'))],
      ),
      g.stat(
        2,
        'Completion rate',
        'completed / processed, over the poll window: share of the subscribers that left the queue who interacted with the message. Processed = sent + completed + dnd + error (every subscriber that left the queue).',
        [4, 0, 4, 4],
        [g.target(c.e(|||
          sum(evolux_campaign_subscribers{%(m)s, campaign=~"$campaign", state="completed"})
          /
            (sum(evolux_campaign_subscribers{%(m)s, campaign=~"$campaign", state=~"sent|completed|dnd|error"}) > 0)
        |||))],
        unit='percentunit',
        decimals=1,
      ),
      g.stat(
        3,
        'Error ratio (last hour)',
        'New errors / newly processed subscribers in the last hour, all selected campaigns. ' + c.notes.levels + ' ' + c.notes.growth,
        [8, 0, 4, 4],
        [g.target(c.e(|||
          sum(campaign:evolux_subscribers_error:delta1h{%(m)s, campaign=~"$campaign"})
          /
            (sum(campaign:evolux_subscribers_processed:delta1h{%(m)s, campaign=~"$campaign"}) > 0)
        |||))],
        unit='percentunit',
        decimals=1,
        more=c.errorLevels,
        colorMode='value',
      ),
      g.stat(
        4,
        'Errors in the last hour',
        'Subscribers of the selected campaigns that ended in error during the last hour. ' + c.notes.growth,
        [12, 0, 4, 4],
        [g.target(c.e('sum(campaign:evolux_subscribers_error:delta1h{%(m)s, campaign=~"$campaign"})'))],
        decimals=0,
        more=[[1, 'orange']],
        colorMode='value',
      ),
      g.stat(
        5,
        'Backlog',
        'Subscribers waiting to be dispatched: pending + scheduled.',
        [16, 0, 4, 4],
        [g.target(c.e('sum(evolux_campaign_subscribers{%(m)s, campaign=~"$campaign", state=~"pending|scheduled"})'))],
      ),
      g.stat(
        6,
        'DND share',
        'dnd / processed over the poll window: share of the subscribers that left the queue who were on a do-not-disturb list. Processed = sent + completed + dnd + error (every subscriber that left the queue).',
        [20, 0, 4, 4],
        [g.target(c.e(|||
          sum(evolux_campaign_subscribers{%(m)s, campaign=~"$campaign", state="dnd"})
          /
            (sum(evolux_campaign_subscribers{%(m)s, campaign=~"$campaign", state=~"sent|completed|dnd|error"}) > 0)
        |||))],
        unit='percentunit',
        decimals=1,
      ),
      g.timeseries(
        7,
        'Subscribers by state',
        'Subscribers of the selected campaigns in each state, stacked. A subscriber moves pending -> scheduled -> sent -> completed, or ends in dnd or error. ' + c.notes.refreshed,
        [0, 4, 12, 9],
        [g.target(c.e('sum by (state) (evolux_campaign_subscribers{%(m)s, campaign=~"$campaign"})'), '{{state}}')],
        stacked=true,
        legend='right',
        overrides=g.stateColors,
      ),
      g.timeseries(
        8,
        'Error ratio by campaign (last hour)',
        'New errors / newly processed subscribers in the last hour, per campaign. ' + c.notes.levels + ' ' + c.notes.growth,
        [12, 4, 12, 9],
        [g.target(c.named(|||
          sum by (campaign) (campaign:evolux_subscribers_error:delta1h{%(m)s, campaign=~"$campaign"})
          /
            (sum by (campaign) (campaign:evolux_subscribers_processed:delta1h{%(m)s, campaign=~"$campaign"}) > 0)
        |||), '{{campaign_name}}')],
        unit='percentunit',
        more=c.errorLevels,
        thresholdsStyle='line+area',
        legend='right',
      ),
      g.timeseries(
        9,
        'Completion rate by campaign',
        'completed / processed per campaign, over the poll window. Processed = sent + completed + dnd + error (every subscriber that left the queue).',
        [0, 13, 12, 8],
        [g.target(c.named(|||
          sum by (campaign) (evolux_campaign_subscribers{%(m)s, campaign=~"$campaign", state="completed"})
          /
            (sum by (campaign) (evolux_campaign_subscribers{%(m)s, campaign=~"$campaign", state=~"sent|completed|dnd|error"}) > 0)
        |||), '{{campaign_name}}')],
        unit='percentunit',
        max=1,
        legend='right',
      ),
      g.timeseries(
        10,
        'Errors in the last hour by campaign',
        'Subscribers that ended in error during the last hour, per campaign. ' + c.notes.growth,
        [12, 13, 12, 8],
        [g.target(c.named('sum by (campaign) (campaign:evolux_subscribers_error:delta1h{%(m)s, campaign=~"$campaign"})'), '{{campaign_name}}')],
        decimals=0,
        legend='right',
      ),
      g.timeseries(
        11,
        'Backlog by campaign (pending + scheduled)',
        'Subscribers waiting to be dispatched, per campaign. A backlog that stays flat while nothing is processed for an hour raises EvoluxCampaignBacklogStalled.',
        [0, 21, 12, 8],
        [g.target(c.named('sum by (campaign) (evolux_campaign_subscribers{%(m)s, campaign=~"$campaign", state=~"pending|scheduled"})'), '{{campaign_name}}')],
        legend='right',
      ),
      g.timeseries(
        12,
        'DND share by campaign',
        'dnd / processed per campaign, over the poll window. Processed = sent + completed + dnd + error (every subscriber that left the queue).',
        [12, 21, 12, 8],
        [g.target(c.named(|||
          sum by (campaign) (evolux_campaign_subscribers{%(m)s, campaign=~"$campaign", state="dnd"})
          /
            (sum by (campaign) (evolux_campaign_subscribers{%(m)s, campaign=~"$campaign", state=~"sent|completed|dnd|error"}) > 0)
        |||), '{{campaign_name}}')],
        unit='percentunit',
        max=1,
        legend='right',
      ),
      g.table(
        13,
        'Campaigns with the most errors (last hour)',
        'The 10 campaigns with the most new errors in the last hour, with the subscribers they processed and their error ratio in that hour. Click a UUID to open the campaign detail dashboard. ' + c.notes.growth,
        [0, 29, 24, 8],
        [
          g.tableTarget(c.named('topk(10, sum by (campaign) (campaign:evolux_subscribers_error:delta1h{%(m)s, campaign=~"$campaign"}) > 0)'), 'A'),
          g.tableTarget(c.named(|||
            sum by (campaign) (campaign:evolux_subscribers_processed:delta1h{%(m)s, campaign=~"$campaign"})
            and on (campaign)
            topk(10, sum by (campaign) (campaign:evolux_subscribers_error:delta1h{%(m)s, campaign=~"$campaign"}) > 0)
          |||), 'B'),
          g.tableTarget(c.named(|||
            (
              sum by (campaign) (campaign:evolux_subscribers_error:delta1h{%(m)s, campaign=~"$campaign"})
            /
              (sum by (campaign) (campaign:evolux_subscribers_processed:delta1h{%(m)s, campaign=~"$campaign"}) > 0)
            )
            and on (campaign)
            topk(10, sum by (campaign) (campaign:evolux_subscribers_error:delta1h{%(m)s, campaign=~"$campaign"}) > 0)
          |||), 'C'),
        ],
        columns=[
          ['campaign_name', 'Campaign'],
          ['campaign', 'UUID'],
          ['Value #A', 'Errors (1h)'],
          ['Value #B', 'Processed (1h)'],
          ['Value #C', 'Error ratio (1h)'],
        ],
        sortBy='Errors (1h)',
        overrides=[
          g.byName('Errors (1h)', [
            { id: 'decimals', value: 0 },
            { id: 'custom.cellOptions', value: { type: 'color-background' } },
            { id: 'thresholds', value: g.thresholds([[1, 'orange']]) },
          ]),
          g.byName('Processed (1h)', { decimals: 0 }),
          g.byName('Error ratio (1h)', [
            { id: 'unit', value: 'percentunit' },
            { id: 'decimals', value: 1 },
            { id: 'custom.cellOptions', value: { type: 'color-background' } },
            { id: 'thresholds', value: g.thresholds(c.errorLevels) },
          ]),
          g.byName('UUID', {
            links: [
              {
                title: 'Campaign detail',
                url: '/d/evolux-campaign-detail/evolux-campaign-detail?${datasource:queryparam}&${job:queryparam}&${instance:queryparam}&var-campaign=${__value.raw}&${__url_time_range}',
              },
            ],
          }),
        ],
      ),
    ] + progress.overview(c, 37) + baseline.overview(c, config, 53) + [
      g.timeseries(
        19,
        'Subscribers by state per view',
        'evolux_view_subscribers summed over campaigns and templates: the subscribers each configured view (a named query over the API filters, e.g. a custom field) counts in each state. A view across every campaign groups its records by their own campaign; the Campaign variable narrows it to the selected ones. ' + c.notes.refreshed,
        [0, 61, 24, 9],
        [g.target(c.e('sum by (view, state) (evolux_view_subscribers{%(m)s, view=~"$view", campaign=~"$campaign"})'), '{{view}} {{state}}')],
        legend='right',
      ),
    ],
  )
