// What the three dashboards share: the matchers, the expression helpers and
// the variables, for one configuration.
local g = import '../lib/grafana.libsonnet';
local q = import '../lib/promql.libsonnet';

function(config) {
  local c = self,
  local selector = config.evoluxExporterSelector,

  // The mixin's selector, then the job and instance variables: every selector
  // of every panel starts with these (`%(m)s` in the expressions below).
  m: q.dashboardMatchers(config),

  // An expression with `%(m)s` filled in.
  e(template):: template % { m: c.m },
  // ... with the campaign names joined (label campaign_name).
  named(template):: q.withCampaignName(c.e(template), c.m),
  // ... with the campaign and template names joined.
  namedT(template):: q.withTemplateName(self.named(template), c.m),

  local percent(ratio) = '%d%%' % std.floor(ratio * 100 + 0.5),
  // The colours of the error ratios: orange from the ceiling
  // (EvoluxCampaignErrorRatioHigh), red from the burst threshold.
  errorLevels:: [[config.errorRatioThreshold, 'orange'], [config.errorBurstThreshold, 'red']],

  // Sentences that end many panel descriptions.
  notes:: {
    levels: 'Orange from %s, the ceiling of EvoluxCampaignErrorRatioHigh (with at least %d processed in the hour); red from %s, the burst threshold of EvoluxCampaignErrorBurst (over 10 minutes). A rise against the campaign\'s own usual ratio (EvoluxCampaignErrorRising) can come well below both: see the baseline panels.' % [
      percent(config.errorRatioThreshold),
      config.errorRatioMinProcessed,
      percent(config.errorBurstThreshold),
    ],
    refreshed: 'Values are refreshed by the exporter once per poll interval (60s by default).',
    growth: 'New errors / newly processed are the growth of the counts over the last hour (current value minus the lowest one in the hour), computed by the recording rules of deploy/prometheus/evolux-rules.yml.',
  },

  // The view variable's matchers: the views' series of evolux_view_subscribers,
  // evolux_view_up and of the freshness families (selected with `view!=""`).
  variables(template=false, view=false):: [
    g.datasourceVariable,
    g.queryVariable(
      'job',
      'Job',
      'Prometheus job(s) scraping evolux-exporter.',
      'label_values(evolux_exporter_build_info{%s}, job)' % selector,
      allValue=null,
    ),
    g.queryVariable(
      'instance',
      'Instance',
      'Exporter instance(s).',
      'label_values(evolux_exporter_build_info{%s, job=~"$job"}, instance)' % selector,
    ),
    g.queryVariable(
      'campaign',
      'Campaign',
      'Campaign UUID(s); panels show the campaign names.',
      'label_values(evolux_campaign_subscribers{%s}, campaign)' % c.m,
    ),
  ] + (if template then [
    g.queryVariable(
      'template',
      'Template',
      'Message template UUID(s) used by the selected campaigns; panels show the template names.',
      'label_values(evolux_campaign_subscribers{%s, campaign=~"$campaign"}, template)' % c.m,
    ),
  ] else []) + (if view then [
    g.queryVariable(
      'view',
      'View',
      'Configured view(s): named queries over the API filters (views: in the configuration file), counted beside the campaigns.',
      'label_values(evolux_view_up{%s}, view)' % c.m,
    ),
  ] else []),
}
