// The mixin's settings. Override any of them with
//   (import 'mixin.libsonnet') + { _config+:: { evoluxExporterSelector: 'job="my-evolux"' } }
// or render with `mixin/render.sh --selector 'job="my-evolux"' --out DIR`.
// The thresholds are those RUNBOOK.md explains; change them together with
// the unit tests of deploy/prometheus/evolux-rules.test.yml.
{
  _config+:: {
    // Selects the exporter's series in every alert, recording rule and
    // dashboard query: the target labels your scrape configuration gives the
    // exporter, e.g. 'job="evolux"' or 'namespace="monitoring",job="evolux-exporter"'.
    // Equality matchers are best: absent() (EvoluxExporterAbsent) can only name
    // the missing target by them.
    evoluxExporterSelector: 'job="evolux"',

    runbookUrl: 'https://github.com/evolux/evolux-exporter/blob/main/deploy/prometheus/RUNBOOK.md',

    // EvoluxExporterDown, EvoluxExporterAbsent: `up` is 0, or missing.
    exporterDownFor: '5m',
    exporterAbsentFor: '10m',
    // EvoluxApiDown: no campaign poll succeeds.
    apiDownFor: '10m',
    // EvoluxCampaignPollFailing: one campaign's polls fail.
    campaignPollFailingFor: '15m',
    // EvoluxDataStale: the last successful poll is older than this (minutes).
    dataStaleMinutes: 15,
    dataStaleFor: '5m',
    // EvoluxCampaignStalenessHigh: the oldest segment read is older than this
    // many times poll.max-interval.
    stalenessIntervals: 2,
    stalenessFor: '15m',
    // EvoluxCampaignErrorRatioHigh: error ratio among the subscribers processed
    // in the last hour, with at least this many processed.
    errorRatioThreshold: 0.10,
    errorRatioMinProcessed: 50,
    errorRatioFor: '15m',
    errorRatioKeepFiringFor: '15m',
    // EvoluxCampaignErrorBurst: the same over the last 10 minutes.
    errorBurstThreshold: 0.30,
    errorBurstMinProcessed: 20,
    errorBurstFor: '5m',
    errorBurstKeepFiringFor: '10m',
    // EvoluxCampaignBacklogStalled: a backlog that has not moved in an hour.
    backlogStalledFor: '15m',
  },
}
