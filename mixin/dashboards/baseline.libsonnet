// Each campaign's error ratio against its baseline band (the recording rules
// of rules/baseline.libsonnet, EvoluxCampaignErrorRising): the last hour's
// ratio, the campaign's usual ratio over the whole hours before, and the upper
// edge of the band, above which the last hour counts as a rise. `c` is
// common.libsonnet for the dashboard's configuration, `config` the _config,
// `y` the first free row of the grid.
local g = import '../lib/grafana.libsonnet';

local series(c, name) =
  c.named('max by (campaign) (%s{%%(m)s, campaign=~"$campaign"})' % name);
local ratio = 'campaign:evolux_subscribers_error:ratio_delta1h';
local baseline = 'campaign:evolux_subscribers_error:ratio_baseline';
local threshold = 'campaign:evolux_subscribers_error:ratio_rise_threshold';

// Dashed baseline, dotted upper edge: the band lies between them.
local dashed(regex, dash) = {
  matcher: { id: 'byRegexp', options: regex },
  properties: [{ id: 'custom.lineStyle', value: { fill: 'dash', dash: dash } }],
};

local explain(config) =
  "The baseline is the campaign's error ratio over the %d whole hours before the last hour (errors / processed, summed from hourly buckets); none while they hold fewer than %d processed. The band's upper edge is the largest of %g x the baseline (at least %g%%), the baseline + %g points, and the baseline + %g standard errors for the last hour's volume (a one-sided z-test). EvoluxCampaignErrorRising fires when the last hour's ratio stays above it for %s, with at least %d processed and %d errors in the hour. The baseline needs history: nothing in the first two hours of a campaign or of Prometheus." % [
    config.errorBaselineHours,
    config.errorBaselineMinProcessed,
    config.errorRiseFactor,
    config.errorRiseRatioFloor * 100,
    config.errorRiseMinIncrease * 100,
    config.errorRiseZ,
    config.errorRiseFor,
    config.errorRiseMinProcessed,
    config.errorRiseMinErrors,
  ];

{
  // The campaign detail dashboard: one line each, per selected campaign.
  detail(c, config, y): [
    g.timeseries(
      17,
      'Error ratio against its baseline (last hour)',
      "Per campaign: the last hour's error ratio (solid), its baseline (dashed) and the upper edge of its baseline band (dotted). " + explain(config) + ' Campaign level: the template selection does not apply.',
      [0, y, 24, 9],
      [
        g.target(series(c, ratio), '{{campaign_name}} last hour'),
        g.target(series(c, baseline), '{{campaign_name}} baseline', 'B'),
        g.target(series(c, threshold), '{{campaign_name}} rise threshold', 'C'),
      ],
      unit='percentunit',
      legend='right',
      overrides=[dashed('.* baseline$', [10, 10]), dashed('.* rise threshold$', [2, 6])],
    ),
  ],

  // The overview: a table, one row per campaign.
  overview(c, config, y): [
    g.table(
      18,
      'Error ratio against the baseline (last hour)',
      "One row per campaign that processed subscribers in the last hour: its error ratio, its baseline and the upper edge of its baseline band. " + explain(config),
      [0, y, 24, 8],
      [
        g.tableTarget(series(c, ratio), 'A'),
        g.tableTarget(series(c, baseline), 'B'),
        g.tableTarget(series(c, threshold), 'C'),
        g.tableTarget(series(c, 'campaign:evolux_subscribers_processed:delta1h'), 'D'),
      ],
      columns=[
        ['campaign_name', 'Campaign'],
        ['campaign', 'UUID'],
        ['Value #A', 'Error ratio (1h)'],
        ['Value #B', 'Baseline'],
        ['Value #C', 'Rise threshold'],
        ['Value #D', 'Processed (1h)'],
      ],
      sortBy='Error ratio (1h)',
      overrides=[
        g.byName('Error ratio (1h)', { decimals: 1, unit: 'percentunit' }),
        g.byName('Baseline', { decimals: 1, unit: 'percentunit' }),
        g.byName('Rise threshold', { decimals: 1, unit: 'percentunit' }),
        g.byName('Processed (1h)', { decimals: 0 }),
      ],
    ),
  ],
}
