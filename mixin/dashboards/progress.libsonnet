// Campaign progress panels (the recording rules of rules/progress.libsonnet):
// dispatch throughput, when the backlog drains at that pace, and progress
// (the share of subscribers processed) over time. `c` is common.libsonnet for
// the dashboard's configuration, `y` the first free row of the grid.
local g = import '../lib/grafana.libsonnet';

local notes = {
  throughput: 'Dispatch throughput is the growth of processed (sent + completed + dnd + error), the slope over the last hour: subscribers joining pending do not hide it, as they would the shrink of the backlog.',
  eta: 'The time left at the current dispatch pace, not counting subscribers still to arrive. No value while the backlog is empty or not draining (throughput 0 or less): an estimate would be infinite or negative.',
  campaignLevel: 'Campaign level: the template selection does not apply.',
};

{
  notes: notes,

  overview(c, y): [
    g.table(
      14,
      'Backlog drain estimate',
      'One row per campaign with subscribers waiting: the backlog (pending + scheduled), the dispatch throughput per hour, when the backlog drains at that pace, and the share of the campaign already processed. ' + notes.eta + ' ' + notes.throughput,
      [0, y, 12, 8],
      [
        g.tableTarget(c.named('sum by (campaign) (campaign:evolux_subscribers_backlog:sum{%(m)s, campaign=~"$campaign"}) > 0'), 'A'),
        g.tableTarget(c.named(|||
          sum by (campaign) (campaign:evolux_subscribers_processed:rate1h{%(m)s, campaign=~"$campaign"}) * 3600
          and on (campaign)
          sum by (campaign) (campaign:evolux_subscribers_backlog:sum{%(m)s, campaign=~"$campaign"}) > 0
        |||), 'B'),
        g.tableTarget(c.named('max by (campaign) (campaign:evolux_subscribers_backlog_drain:seconds{%(m)s, campaign=~"$campaign"})'), 'C'),
        g.tableTarget(c.named(|||
          max by (campaign) (campaign:evolux_subscribers_processed:ratio{%(m)s, campaign=~"$campaign"})
          and on (campaign)
          sum by (campaign) (campaign:evolux_subscribers_backlog:sum{%(m)s, campaign=~"$campaign"}) > 0
        |||), 'D'),
      ],
      columns=[
        ['campaign_name', 'Campaign'],
        ['campaign', 'UUID'],
        ['Value #A', 'Backlog'],
        ['Value #B', 'Processed / h'],
        ['Value #C', 'Drains in'],
        ['Value #D', 'Progress'],
      ],
      sortBy='Backlog',
      overrides=[
        g.byName('Backlog', { decimals: 0 }),
        g.byName('Processed / h', { decimals: 0 }),
        g.byName('Drains in', { decimals: 0, unit: 's' }),
        g.byName('Progress', { decimals: 1, unit: 'percentunit' }),
      ],
    ),
    g.timeseries(
      15,
      'Dispatch throughput by campaign',
      'Subscribers leaving pending/scheduled per hour, by campaign. ' + notes.throughput,
      [12, y, 12, 8],
      [g.target(c.named('sum by (campaign) (campaign:evolux_subscribers_processed:rate1h{%(m)s, campaign=~"$campaign"}) * 3600'), '{{campaign_name}}')],
    ),
    g.timeseries(
      16,
      'Progress by campaign',
      "Share of each campaign's subscribers (inserted within the poll window) that have left the queue: processed / all. Over time, the campaign's completion curve.",
      [0, y + 8, 12, 8],
      [g.target(c.named('max by (campaign) (campaign:evolux_subscribers_processed:ratio{%(m)s, campaign=~"$campaign"})'), '{{campaign_name}}')],
      unit='percentunit',
      max=1,
    ),
    g.timeseries(
      17,
      'Backlog drain estimate over time',
      'Time until the backlog of each campaign is empty at its dispatch pace. ' + notes.eta,
      [12, y + 8, 12, 8],
      [g.target(c.named('max by (campaign) (campaign:evolux_subscribers_backlog_drain:seconds{%(m)s, campaign=~"$campaign"})'), '{{campaign_name}}')],
      unit='s',
    ),
  ],

  detail(c, y): [
    g.stat(
      14,
      'Backlog drains in',
      'When the last of the selected campaigns has dispatched its backlog at its current pace. ' + notes.eta + ' ' + notes.campaignLevel,
      [0, y, 6, 8],
      [g.target(c.e('max(campaign:evolux_subscribers_backlog_drain:seconds{%(m)s, campaign=~"$campaign"})'))],
      unit='s',
      decimals=0,
    ),
    g.timeseries(
      15,
      'Dispatch throughput',
      'Subscribers leaving pending/scheduled per hour, by campaign. ' + notes.throughput + ' ' + notes.campaignLevel,
      [6, y, 9, 8],
      [g.target(c.named('sum by (campaign) (campaign:evolux_subscribers_processed:rate1h{%(m)s, campaign=~"$campaign"}) * 3600'), '{{campaign_name}}')],
    ),
    g.timeseries(
      16,
      'Progress',
      "Share of the campaign's subscribers (inserted within the poll window) that have left the queue: processed / all, over time. " + notes.campaignLevel,
      [15, y, 9, 8],
      [g.target(c.named('max by (campaign) (campaign:evolux_subscribers_processed:ratio{%(m)s, campaign=~"$campaign"})'), '{{campaign_name}}')],
      unit='percentunit',
      max=1,
    ),
  ],
}
