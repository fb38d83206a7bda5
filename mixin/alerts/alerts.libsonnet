// The alerts (group evolux.alerts). What to do when one fires:
// deploy/prometheus/RUNBOOK.md, one section per alert.
local campaignAlerts = import 'campaigns.libsonnet';

{
  // Shared by the alert files: `local a = $._alertHelpers;`.
  _alertHelpers:: {
    local config = $._config,
    s: config.evoluxExporterSelector,

    // The campaign's name, or its UUID alone while no name is known.
    campaign: '{{ if ne $labels.campaign_name $labels.campaign }}{{ $labels.campaign_name }} ({{ $labels.campaign }}){{ else }}{{ $labels.campaign }}{{ end }}',

    // `expr` (by job, instance, campaign) with the campaign_name label.
    named(expr):: |||
      %s
        * on (job, instance, campaign) group_left (campaign_name)
      campaign:evolux_campaign_name:info{%s}
    ||| % [std.rstripChars(expr, '\n'), self.s],

    // '15m' -> '15 minutes', for descriptions.
    spoken(duration)::
      local unit = std.substr(duration, std.length(duration) - 1, 1);
      local n = std.substr(duration, 0, std.length(duration) - 1);
      n + { s: ' seconds', m: ' minutes', h: ' hours' }[unit],

    // 0.1 -> '10%'
    percent(ratio):: '%d%%' % std.floor(ratio * 100 + 0.5),

    alert(name, severity, expr, forDuration, summary, description, keepFiringFor=null):: {
      alert: name,
      expr: expr,
      'for': forDuration,
      labels: { severity: severity },
      annotations: {
        summary: summary,
        description: description,
        runbook_url: '%s#%s' % [config.runbookUrl, std.asciiLower(name)],
      },
    } + (if keepFiringFor == null then {} else { keep_firing_for: keepFiringFor }),
  },

  prometheusAlerts+:: {
    local a = $._alertHelpers,
    local c = $._config,
    local s = a.s,

    groups+: [{
      name: 'evolux.alerts',
      rules: [
        // --- the exporter itself -------------------------------------------------
        a.alert(
          'EvoluxExporterDown',
          'critical',
          'up{%s} == 0' % s,
          c.exporterDownFor,
          'Prometheus cannot scrape the Evolux exporter.',
          'The scrape of {{ $labels.instance }} (job {{ $labels.job }}) has failed for %s; no Evolux campaign metric or alert is up to date.' % a.spoken(c.exporterDownFor),
        ),
        a.alert(
          'EvoluxExporterAbsent',
          'critical',
          'absent(up{%s})' % s,
          c.exporterAbsentFor,
          'No Evolux exporter target is known to Prometheus.',
          'Prometheus has had no target in job {{ $labels.job }} for %s: the exporter is not deployed or service discovery does not find it, so no campaign alert can fire.' % a.spoken(c.exporterAbsentFor),
        ),

        // --- the Evolux API, as seen by the exporter's polls ---------------------
        // evolux_up is 0 as soon as ONE campaign's or view's last poll failed;
        // those cases are EvoluxCampaignPollFailing and EvoluxViewPollFailing.
        // This alert is for "nothing works": evolux_up is 0 and not a single
        // campaign's or view's last poll succeeded (bad token, API down, network).
        a.alert(
          'EvoluxApiDown',
          'critical',
          |||
            evolux_up{%(s)s} == 0
              unless on (job, instance)
            (
                max by (job, instance) (evolux_campaign_up{%(s)s}) == 1
              or
                max by (job, instance) (evolux_view_up{%(s)s}) == 1
            )
          ||| % { s: s },
          c.apiDownFor,
          'The Evolux exporter cannot poll the Evolux API at all.',
          "No campaign or view poll of {{ $labels.instance }} has succeeded for %s; the campaign metrics are frozen at their last good values. Check evolux_api_requests_total by code and the exporter's logs." % a.spoken(c.apiDownFor),
        ),
        a.alert(
          'EvoluxCampaignPollFailing',
          'warning',
          a.named('(evolux_campaign_up{%s} == 0)' % s),
          c.campaignPollFailingFor,
          'The polls of one Evolux campaign are failing.',
          'The last polls of campaign %s by {{ $labels.instance }} have failed for %s; its counts are frozen at their last good values.' % [a.campaign, a.spoken(c.campaignPollFailingFor)],
        ),
        // `> 0` skips campaigns that have never been polled successfully
        // (covered by the two alerts above). The views' series of the freshness
        // families carry `view` instead of `campaign`: `view=""` keeps them out
        // of the campaign alerts (the view alerts below are theirs).
        a.alert(
          'EvoluxDataStale',
          'warning',
          a.named('((time() - (evolux_campaign_last_success_timestamp_seconds{%s, view=""} > 0)) > %d)' % [s, c.dataStaleMinutes * 60]),
          c.dataStaleFor,
          'The counts of one Evolux campaign are out of date.',
          'The last successful poll of campaign %s by {{ $labels.instance }} ended {{ $value | humanizeDuration }} ago (threshold %dm).' % [a.campaign, c.dataStaleMinutes],
        ),
        // Segmented polling reads every segment of a campaign at least every
        // poll.max-interval (evolux_poll_max_interval_seconds). A campaign whose
        // oldest segment read is more than twice that old is not being
        // refreshed: reads keep failing, or more are due than --evolux.max-rps
        // allows in an interval.
        a.alert(
          'EvoluxCampaignStalenessHigh',
          'warning',
          a.named(|||
            (
                (time() - evolux_campaign_refreshed_timestamp_seconds{%(s)s, view=""})
              > on (job, instance) group_left
                %(n)d * evolux_poll_max_interval_seconds{%(s)s}
            )
          ||| % { s: s, n: c.stalenessIntervals }),
          c.stalenessFor,
          "Part of one Evolux campaign's counts has not been re-read for too long.",
          'The oldest segment of campaign %s was last read by {{ $labels.instance }} {{ $value | humanizeDuration }} ago, more than %s poll.max-interval, for %s.' % [
            a.campaign,
            if c.stalenessIntervals == 2 then 'twice' else '%d times' % c.stalenessIntervals,
            a.spoken(c.stalenessFor),
          ],
        ),

        // --- the views: named queries over the API's filters (issue 19) --------
        // A view is read like a campaign, but exported beside the campaigns:
        // evolux_view_up{view}, and the freshness families with a `view` label
        // instead of `campaign`. No last-success alert: a view with fixed bounds
        // in the past settles and is read once per poll.max-interval.
        a.alert(
          'EvoluxViewPollFailing',
          'warning',
          'evolux_view_up{%s} == 0' % s,
          c.viewPollFailingFor,
          'The polls of one Evolux view are failing.',
          'The last polls of view {{ $labels.view }} by {{ $labels.instance }} have failed for %s; its counts are frozen at their last good values.' % a.spoken(c.viewPollFailingFor),
        ),
        a.alert(
          'EvoluxViewStalenessHigh',
          'warning',
          |||
            (
                (time() - evolux_campaign_refreshed_timestamp_seconds{%(s)s, view!=""})
              > on (job, instance) group_left
                %(n)d * evolux_poll_max_interval_seconds{%(s)s}
            )
          ||| % { s: s, n: c.viewStalenessIntervals },
          c.viewStalenessFor,
          "Part of one Evolux view's counts has not been re-read for too long.",
          'The oldest segment of view {{ $labels.view }} was last read by {{ $labels.instance }} {{ $value | humanizeDuration }} ago, more than %s poll.max-interval, for %s.' % [
            if c.viewStalenessIntervals == 2 then 'twice' else '%d times' % c.viewStalenessIntervals,
            a.spoken(c.viewStalenessFor),
          ],
        ),
      ] + campaignAlerts(a, c),
    }],
  },
}
